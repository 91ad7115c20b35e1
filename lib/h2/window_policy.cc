#include "h2/window_policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace hbone::h2 {

WindowPolicy::WindowPolicy(const Settings& settings) : settings_(settings) {
  if (settings.auto_max) sizer_.emplace(settings.stream_window, *settings.auto_max);
}

WindowPolicy::Data WindowPolicy::on_data(int32_t stream_id, size_t n, Clock::time_point now) {
  Data out;
  inbound_ += n;
  if (sizer_) out.probe = sizer_->on_data(n, now);
  if (settings_.shared_stream_window == 0) return out;
  if (stream_id != last_stream_ && now - last_at_ < kSharedWithin) {
    shared_until_ = now + kSharedHold;
    if (!shared_) {
      shared_ = true;
      cap_ = shared_cap();
      out.want_rtt = min_rtt_.count() == 0;
    }
  }
  last_stream_ = stream_id;
  last_at_ = now;
  // A lower window holds back the peer's next credit: what it may still send is what it
  // had. Each stream is capped when its DATA shows it is sending.
  if (shared_) out.stream_cap = cap_;
  return out;
}

std::optional<uint32_t> WindowPolicy::on_credit(int64_t remaining, bool keeping_up) {
  return sizer_ ? sizer_->on_credit(remaining, keeping_up) : std::nullopt;
}

std::optional<uint32_t> WindowPolicy::on_probe_ack(Clock::time_point now) {
  return sizer_ ? sizer_->on_ack(now) : std::nullopt;
}

void WindowPolicy::on_settings_acked() {
  if (sizer_) sizer_->on_settings_acked();
}

void WindowPolicy::on_rtt(Clock::duration rtt) {
  if (min_rtt_.count() == 0 || rtt < min_rtt_) min_rtt_ = rtt;
}

std::optional<int32_t> WindowPolicy::on_sample(double seconds, Clock::time_point now) {
  rate_ = static_cast<double>(inbound_ - sampled_) / seconds;
  sampled_ = inbound_;
  if (!shared_) return std::nullopt;
  if (now < shared_until_) {
    int32_t cap = shared_cap();
    if (cap <= cap_) return std::nullopt;
    cap_ = cap;  // still shared, with more in flight than the cap allowed
    return cap;
  }
  shared_ = false;
  return full_window();
}

void WindowPolicy::describe(nlohmann::json& out) const {
  out["stream_windows_shared"] = shared_;  // capped at http2.shared_stream_window
  if (shared_) out["shared_stream_window"] = cap_;
  // The smallest PING round trip seen (0: none yet): the shared windows' floor.
  out["min_rtt_us"] = std::chrono::duration_cast<std::chrono::microseconds>(min_rtt_).count();
  if (sizer_) {
    out["auto_window"] = {{"stream_window", sizer_->window()},
                          {"raises", sizer_->raises()},
                          {"rtt_seconds", sizer_->rtt_seconds()},
                          {"bandwidth_bytes_per_second", sizer_->bandwidth()}};
  }
}

int32_t WindowPolicy::connection_window_for(uint32_t stream_window) const {
  // Well above one stream's window (ztunnel deadlocked on equal ones).
  uint64_t window = std::max<uint64_t>(settings_.connection_window, uint64_t{stream_window} * 4);
  return static_cast<int32_t>(std::min<uint64_t>(window, 0x7fffffff));
}

int32_t WindowPolicy::full_window() const {
  return static_cast<int32_t>(sizer_ ? sizer_->window() : settings_.stream_window);
}

int32_t WindowPolicy::shared_cap() const {
  // A window-limited stream measures the cap itself, so the cap doubles each second until
  // it no longer limits.
  double bdp = rate_ * std::chrono::duration<double>(min_rtt_).count();
  double cap = std::max<double>(settings_.shared_stream_window, 2 * bdp);
  return static_cast<int32_t>(std::min<double>(cap, full_window()));
}

}  // namespace hbone::h2
