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
// At short RTTs a PING overtakes the credit loop and under-reads the flow, so a second
// signal raises the window too: the sender ran out of credit on a stream although the
// receiver kept up with writing (it grows to 4x the last BDP estimate, at least doubling).
// One raise at a time: the next waits until the peer acknowledged the previous SETTINGS.
class WindowSizer {
 public:
  using Clock = std::chrono::steady_clock;
  WindowSizer(uint32_t initial, uint32_t max) : window_(initial), max_(max) {}

  // `n` bytes of DATA arrived; true when a probe PING should be sent now.
  bool on_data(size_t n, Clock::time_point now);
  // The probe's ACK arrived; the new window when it should grow.
  std::optional<uint32_t> on_ack(Clock::time_point now);
  // DATA arrived on a stream whose peer may now send only `remaining` more bytes before
  // our next WINDOW_UPDATE; `keeping_up`: the receiver has no backlog. The new window when
  // the sender was starved of credit.
  std::optional<uint32_t> on_credit(int64_t remaining, bool keeping_up);
  // The peer acknowledged our SETTINGS: a raise took effect.
  void on_settings_acked() { raising_ = false; }
  uint64_t raises() const { return raises_; }

  uint32_t window() const { return window_; }
  // The smallest PING round trip seen: the path's RTT without our own queueing.
  double rtt_seconds() const { return rtt_; }
  double bandwidth() const { return bandwidth_; }  // bytes/s over the last probe

 private:
  uint32_t window_;
  uint32_t max_;
  uint64_t sample_ = 0;
  bool probing_ = false;
  Clock::time_point sent_{};
  double rtt_ = 0;  // minimum
  double bandwidth_ = 0;
  bool raising_ = false;
  uint64_t raises_ = 0;

  std::optional<uint32_t> raise_to(uint64_t target);
};

}  // namespace hbone::h2
