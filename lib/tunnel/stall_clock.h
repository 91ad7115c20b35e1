#pragma once

#include <chrono>
#include <optional>

#include "tunnel/tunnel_stats.h"

namespace hbone::tunnel {

// How long a tunnel's sending has waited on the peer's flow-control windows, and on which
// (its stream's or the whole connection's): counted into the worker's stall metrics as
// each stall ends, and shown by /debug/tunnels while one lasts.
class StallClock {
 public:
  using Clock = std::chrono::steady_clock;
  StallClock(TunnelStats& stats, int role) : stats_(stats), role_(role) {}

  // The tunnel is stalled on `scope` from now (nullopt: it is not stalled). Called on every
  // read and send: the clock is read only when the scope changes.
  void set(std::optional<StallScope> scope);
  std::optional<StallScope> scope() const { return scope_; }
  // All stalls so far, the one in progress included.
  Clock::duration total(Clock::time_point now) const;

 private:
  TunnelStats& stats_;
  int role_;
  std::optional<StallScope> scope_;
  Clock::time_point started_{};
  Clock::duration total_{};
};

}  // namespace hbone::tunnel
