#pragma once

#include <chrono>
#include <optional>

#include "metrics/worker_metrics.h"

namespace hbone::tunnel {

// How long a tunnel's sending has waited on the peer's flow-control windows, and on which
// (its stream's or the whole connection's): counted into the worker's stall metrics as
// each stall ends, and shown by /debug/tunnels while one lasts.
class StallClock {
 public:
  using Clock = std::chrono::steady_clock;
  StallClock(metrics::WorkerMetrics& metrics, int role) : metrics_(metrics), role_(role) {}

  // The tunnel is stalled on `scope` from now (nullopt: it is not stalled). Called on every
  // read and send: the clock is read only when the scope changes.
  void set(std::optional<metrics::StallScope> scope);
  std::optional<metrics::StallScope> scope() const { return scope_; }
  // All stalls so far, the one in progress included.
  Clock::duration total(Clock::time_point now) const;

 private:
  metrics::WorkerMetrics& metrics_;
  int role_;
  std::optional<metrics::StallScope> scope_;
  Clock::time_point started_{};
  Clock::duration total_{};
};

}  // namespace hbone::tunnel
