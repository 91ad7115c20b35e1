#include "h2/keepalive.h"

namespace hbone::h2 {

Keepalive::Keepalive(uv_loop_t* loop, Policy policy, std::function<void()> ping, std::function<void()> dead,
                     std::function<bool()> busy)
    : timer_(loop, [this] { on_timer(); }),
      policy_(policy),
      ping_(std::move(ping)),
      dead_(std::move(dead)),
      busy_(std::move(busy)) {}

void Keepalive::start() {
  if (policy_.interval.count() > 0) timer_.start(policy_.interval, policy_.interval);
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
    if (now - sent_ >= policy_.timeout) dead_();
    return;
  }
  if (policy_.while_idle || busy_()) ping(now);
}

}  // namespace hbone::h2
