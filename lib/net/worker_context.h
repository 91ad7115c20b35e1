#pragma once

#include "config/config.h"
#include "metrics/worker_metrics.h"
#include "net/event_loop.h"

namespace hbone::net {

// What every object on one worker shares: its loop, the config and its metrics.
struct WorkerContext {
  unsigned index;
  EventLoop& loop;
  const config::Config& config;
  metrics::WorkerMetrics& metrics;
};

}  // namespace hbone::net
