#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace hbone::h2 {

// http2.stream_window: auto. Estimates the bandwidth-delay product the way gRPC's BDP
// probe does: a PING goes out when data starts arriving, and the bytes received until its
// ACK are one round trip's worth. nghttp2 returns credit in halves of the window, so a
// window-limited sender delivers between half and all of it per round trip: a sample of
// half the window or more means the window was the limit, and it grows to four times the
// sample (at least doubling), up to `max`.
class WindowSizer {
 public:
  using Clock = std::chrono::steady_clock;
  WindowSizer(uint32_t initial, uint32_t max) : window_(initial), max_(max) {}

  // `n` bytes of DATA arrived; true when a probe PING should be sent now.
  bool on_data(size_t n, Clock::time_point now);
  // The probe's ACK arrived; the new window when it should grow.
  std::optional<uint32_t> on_ack(Clock::time_point now);

  uint32_t window() const { return window_; }
  double rtt_seconds() const { return rtt_; }
  double bandwidth() const { return bandwidth_; }  // bytes/s over the last probe

 private:
  uint32_t window_;
  uint32_t max_;
  uint64_t sample_ = 0;
  bool probing_ = false;
  Clock::time_point sent_{};
  double rtt_ = 0;
  double bandwidth_ = 0;
};

}  // namespace hbone::h2
