#include "h2/keepalive.h"

namespace hbone::h2 {

Keepalive::Keepalive(uv_loop_t* loop, std::chrono::milliseconds interval, std::chrono::milliseconds timeout,
                     std::function<void()> ping, std::function<void()> dead)
    : timer_(loop, [this] { on_timer(); }),
      interval_(interval),
      timeout_(timeout),
      ping_(std::move(ping)),
      dead_(std::move(dead)) {}

void Keepalive::start() {
  if (interval_.count() > 0) timer_.start(interval_, interval_);
}

void Keepalive::stop() { timer_.stop(); }

void Keepalive::ping(Clock::time_point now) {
  if (outstanding_) return;
  outstanding_ = true;
  sent_ = now;
  ping_();
}

std::optional<Keepalive::Clock::duration> Keepalive::on_ack(Clock::time_point now) {
  if (!outstanding_) return std::nullopt;
  outstanding_ = false;
  return now - sent_;
}

void Keepalive::on_timer() {
  auto now = Clock::now();
  if (outstanding_) {
    if (now - sent_ >= timeout_) dead_();
    return;
  }
  ping(now);
}

}  // namespace hbone::h2
