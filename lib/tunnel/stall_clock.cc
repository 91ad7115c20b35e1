#include "tunnel/stall_clock.h"

namespace hbone::tunnel {

void StallClock::set(std::optional<StallScope> scope) {
  if (scope == scope_) return;
  auto now = Clock::now();
  if (scope_) {
    auto spent = now - started_;
    total_ += spent;
    stats_.stall_micros[role_][*scope_].add(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(spent).count()));
  }
  if (scope) {
    stats_.stalls[role_][*scope].add();
    started_ = now;
  }
  scope_ = scope;
}

StallClock::Clock::duration StallClock::total(Clock::time_point now) const {
  return total_ + (scope_ ? now - started_ : Clock::duration{});
}

}  // namespace hbone::tunnel
