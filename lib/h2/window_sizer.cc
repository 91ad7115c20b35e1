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
  rtt_ = std::chrono::duration<double>(now - sent_).count();
  if (rtt_ > 0) bandwidth_ = static_cast<double>(sample_) / rtt_;
  if (sample_ * 2 < uint64_t{window_}) return std::nullopt;
  uint64_t grown = std::min<uint64_t>(std::max<uint64_t>(sample_ * 4, uint64_t{window_} * 2), max_);
  if (grown <= window_) return std::nullopt;
  window_ = static_cast<uint32_t>(grown);
  return window_;
}

}  // namespace hbone::h2
