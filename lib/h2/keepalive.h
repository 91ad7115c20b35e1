#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>

#include "net/timer.h"

namespace hbone::h2 {

// PINGs on one HTTP/2 connection: one every interval (none with 0s), on idle connections
// too unless the policy spares them, and a PING unanswered for the timeout means the peer is gone (a NAT forgot the connection, the
// host died). Each answered PING's round trip is what the shared windows' floor is measured
// with, so one can also be asked for at once.
class Keepalive {
 public:
  using Clock = std::chrono::steady_clock;
  struct Policy {
    std::chrono::milliseconds interval;
    std::chrono::milliseconds timeout;
    // Also while no stream is open. A gRPC server strikes a client that pings an idle
    // connection (grpc-go's keepalive enforcement: GOAWAY "too_many_pings").
    bool while_idle = true;
  };
  // `ping`: submit a PING now. `dead`: the last one went unanswered for the timeout.
  // `busy`: a stream is open (asked only when the policy spares idle connections).
  Keepalive(uv_loop_t* loop, Policy policy, std::function<void()> ping, std::function<void()> dead,
            std::function<bool()> busy);

  const Policy& policy() const { return policy_; }

  void start();  // the interval's timer
  void stop();
  // A PING now, unless one is out.
  void ping(Clock::time_point now);
  // Our PING was acknowledged: its round trip (none if no PING was out).
  std::optional<Clock::duration> on_ack(Clock::time_point now);

 private:
  void on_timer();

  net::Timer timer_;
  const Policy policy_;
  std::function<void()> ping_;
  std::function<void()> dead_;
  std::function<bool()> busy_;
  Clock::time_point sent_{};
  bool outstanding_ = false;
};

}  // namespace hbone::h2
