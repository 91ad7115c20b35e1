#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>

#include "h2/window_sizer.h"

namespace hbone::h2 {

// The receive-window decisions of one HTTP/2 connection, apart from nghttp2 and the clock:
// H2Connection reports what arrived and when, and applies what this answers. Two heuristics:
//
// - http2.stream_window: auto (WindowSizer): the stream window grows with the measured
//   bandwidth-delay product; the connection window stays at least four stream windows.
// - http2.shared_stream_window: while two streams of the connection receive DATA within
//   kSharedWithin of each other, each stream's window is capped, so a bulk upload cannot
//   queue megabytes ahead of an interactive tunnel in their TCP connection. The cap never
//   falls below twice what arrives in the smallest PING round trip (on a long path that much
//   is in flight, not queued); it holds until neither stream has shown sharing for
//   kSharedHold, then every stream gets its full window back.
class WindowPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kSharedWithin = std::chrono::milliseconds(100);
  static constexpr auto kSharedHold = std::chrono::seconds(1);

  struct Settings {
    uint32_t stream_window = 0;         // http2.stream_window (auto: its start)
    uint32_t connection_window = 0;     // http2.connection_window
    uint32_t shared_stream_window = 0;  // 0: windows are never shared
    std::optional<uint32_t> auto_max;   // stream_window: auto, up to http2.max_window
  };

  explicit WindowPolicy(const Settings& settings);

  // What to do about DATA that arrived.
  struct Data {
    bool probe = false;     // send the window sizer's BDP probe PING
    bool want_rtt = false;  // the shared cap's floor needs a round trip: PING, if none is out
    // The stream's window must not exceed this now (the shared cap).
    std::optional<int32_t> stream_cap;
  };
  Data on_data(int32_t stream_id, size_t n, Clock::time_point now);
  // DATA arrived on a stream whose peer may send `remaining` more bytes before our next
  // WINDOW_UPDATE, and the receiver `keeping_up`: the stream window to raise to, if any.
  std::optional<uint32_t> on_credit(int64_t remaining, bool keeping_up);
  // The window sizer's probe was acknowledged: the stream window to raise to, if any.
  std::optional<uint32_t> on_probe_ack(Clock::time_point now);
  void on_settings_acked();
  // A keepalive PING's round trip.
  void on_rtt(Clock::duration rtt);
  // Once per sample period of `seconds`: the window every stream should have at least
  // (sharing ended, or the cap rose with the measured rate), if any changes.
  std::optional<int32_t> on_sample(double seconds, Clock::time_point now);

  // The connection window that goes with a stream window (raised with it).
  int32_t connection_window_for(uint32_t stream_window) const;
  // A stream's receive window when not shared.
  int32_t full_window() const;
  bool shared() const { return shared_; }
  int32_t cap() const { return cap_; }
  Clock::duration min_rtt() const { return min_rtt_; }  // zero: none measured yet
  const WindowSizer* sizer() const { return sizer_ ? &*sizer_ : nullptr; }
  // Shared or not, the cap, the smallest round trip, the auto window (/debug/tunnels).
  void describe(nlohmann::json& out) const;

 private:
  int32_t shared_cap() const;

  const Settings settings_;
  std::optional<WindowSizer> sizer_;
  int32_t last_stream_ = 0;  // the stream DATA last arrived on, and when
  Clock::time_point last_at_{};
  Clock::time_point shared_until_{};
  bool shared_ = false;
  int32_t cap_ = 0;
  Clock::duration min_rtt_{};
  uint64_t inbound_ = 0;  // DATA bytes received
  uint64_t sampled_ = 0;  // at the last on_sample()
  double rate_ = 0;       // bytes/s over the last sample period
};

}  // namespace hbone::h2
