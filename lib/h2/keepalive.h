#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>

#include "net/timer.h"

namespace hbone::h2 {

// PINGs on one HTTP/2 connection: one every http2.keepalive_interval (none with 0s), and a
// PING unanswered for http2.keepalive_timeout means the peer is gone (a NAT forgot the
// connection, the host died). Each answered PING's round trip is what the shared windows'
// floor is measured with, so one can also be asked for at once.
class Keepalive {
 public:
  using Clock = std::chrono::steady_clock;
  // `ping`: submit a PING now. `dead`: the last one went unanswered for `timeout`.
  Keepalive(uv_loop_t* loop, std::chrono::milliseconds interval, std::chrono::milliseconds timeout,
            std::function<void()> ping, std::function<void()> dead);

  void start();  // the interval's timer
  void stop();
  // A PING now, unless one is out.
  void ping(Clock::time_point now);
  // Our PING was acknowledged: its round trip (none if no PING was out).
  std::optional<Clock::duration> on_ack(Clock::time_point now);

 private:
  void on_timer();

  net::Timer timer_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds timeout_;
  std::function<void()> ping_;
  std::function<void()> dead_;
  Clock::time_point sent_{};
  bool outstanding_ = false;
};

}  // namespace hbone::h2
