#pragma once

#include "config/config.h"
#include "metrics/worker_metrics.h"
#include "net/event_loop.h"

namespace hbone::tunnel {
class Admission;
}

namespace hbone::net {

class ConnectionBalancer;

// What every object on one worker shares: its loop, the config, its metrics, and the
// process-wide tunnel caps and connection balancer (null: each worker keeps what it accepts).
struct WorkerContext {
  unsigned index;
  EventLoop& loop;
  const config::Config& config;
  metrics::WorkerMetrics& metrics;
  tunnel::Admission& admission;
  ConnectionBalancer* balancer;
};

}  // namespace hbone::net
