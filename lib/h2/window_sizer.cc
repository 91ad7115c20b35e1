#include "h2/window_sizer.h"

#include <algorithm>

namespace hbone::h2 {

bool WindowSizer::on_data(size_t n, Clock::time_point now) {
  sample_ += n;
  if (probing_ || window_ >= max_) return false;
  probing_ = true;
  sent_ = now;
  sample_ = n;
  return true;
}

std::optional<uint32_t> WindowSizer::on_ack(Clock::time_point now) {
  if (!probing_) return std::nullopt;
  probing_ = false;
  double rtt = std::chrono::duration<double>(now - sent_).count();
  if (rtt > 0) bandwidth_ = static_cast<double>(sample_) / rtt;
  if (rtt > 0 && (rtt_ == 0 || rtt < rtt_)) rtt_ = rtt;
  if (sample_ * 2 < uint64_t{window_}) return std::nullopt;
  return raise_to(sample_ * 4);
}

std::optional<uint32_t> WindowSizer::on_credit(int64_t remaining, bool keeping_up) {
  if (!keeping_up || remaining * 8 > int64_t{window_}) return std::nullopt;
  return raise_to(static_cast<uint64_t>(bandwidth_ * rtt_ * 4));
}

std::optional<uint32_t> WindowSizer::raise_to(uint64_t target) {
  if (raising_) return std::nullopt;
  uint64_t grown = std::min<uint64_t>(std::max<uint64_t>(target, uint64_t{window_} * 2), max_);
  if (grown <= window_) return std::nullopt;
  window_ = static_cast<uint32_t>(grown);
  raising_ = true;
  ++raises_;
  return window_;
}

}  // namespace hbone::h2
