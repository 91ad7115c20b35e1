#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tunnel/tunnel_stats.h"

namespace hbone::tunnel {

// Process-wide tunnel caps (limits.max_tunnels, limits.max_tunnels_per_identity), shared by
// every worker. Only tunnel setup and teardown touch it, never the data path.
class Admission {
 public:
  using Refusal = LimitRefusal;

  // One admitted tunnel; gives its place back when destroyed.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    friend class Admission;
    Ticket(Admission* owner, std::string identity) : owner_(owner), identity_(std::move(identity)) {}
    void release();
    Admission* owner_ = nullptr;
    std::string identity_;  // empty: not counted per identity
  };

  Admission(uint32_t max_tunnels, uint32_t max_per_identity)
      : max_tunnels_(max_tunnels), max_per_identity_(max_per_identity) {}
  // A reload's caps, for tunnels admitted from now on (open ones are not closed to fit).
  void set_limits(uint32_t max_tunnels, uint32_t max_per_identity) {
    max_tunnels_.store(max_tunnels, std::memory_order_relaxed);
    max_per_identity_.store(max_per_identity, std::memory_order_relaxed);
  }

  // A ticket for one more tunnel of `identity` (empty: no per-identity cap), or an empty
  // ticket and the cap that refused it.
  Ticket admit(const std::string& identity, Refusal& refusal);
  uint32_t active() const { return active_.load(std::memory_order_relaxed); }

 private:
  void release(const std::string& identity);

  std::atomic<uint32_t> max_tunnels_;
  std::atomic<uint32_t> max_per_identity_;
  std::atomic<uint32_t> active_{0};
  std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> per_identity_;
};

}  // namespace hbone::tunnel
