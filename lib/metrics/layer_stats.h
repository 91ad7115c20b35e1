#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace hbone::metrics {

// One worker's counters that layers above this one own (h2::HandshakeStats,
// tunnel::TunnelStats, gateway::GatewayStats, client::CaptureStats): the outcome enum a
// counter is labelled by, its label names and its families live with the layer that
// produces them (as Envoy's filters own their stats), and a worker holds one of each
// without knowing their types.
class LayerStats {
 public:
  // This worker's S, made on first use; then one load. Its owner keeps the reference.
  template <typename S>
  S& get() {
    std::atomic<void*>& slot = slots_[index<S>()];
    if (void* made = slot.load(std::memory_order_acquire)) return *static_cast<S*>(made);
    std::lock_guard lock(make_mutex_);
    if (void* made = slot.load(std::memory_order_relaxed)) return *static_cast<S*>(made);
    auto made = std::make_shared<S>();
    owned_.push_back(made);
    slot.store(made.get(), std::memory_order_release);
    return *made;
  }
  // The scraper's view: null while nothing of this worker has counted into an S.
  template <typename S>
  const S* find() const {
    return static_cast<const S*>(slots_[index<S>()].load(std::memory_order_acquire));
  }

 private:
  static constexpr size_t kSlots = 8;  // four layers use one each
  template <typename S>
  static size_t index() {
    static const size_t assigned = next_index_++;  // once per type
    if (assigned >= kSlots) throw std::logic_error("metrics::LayerStats: more stats types than kSlots");
    return assigned;
  }

  static inline std::atomic<size_t> next_index_{0};
  std::array<std::atomic<void*>, kSlots> slots_{};
  std::mutex make_mutex_;
  std::vector<std::shared_ptr<void>> owned_;
};

}  // namespace hbone::metrics
