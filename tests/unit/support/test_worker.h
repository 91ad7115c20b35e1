#pragma once

#include "config/config.h"
#include "metrics/worker_metrics.h"
#include "net/event_loop.h"
#include "worker/buffer_budget.h"
#include "worker/context.h"

namespace hbone::test {

// What a worker gives the objects on its loop, for a test that runs them on its own thread:
// the loop, a default config (change it before use), metrics and an unlimited budget.
struct TestWorker {
  net::EventLoop loop;
  config::Config config;
  metrics::WorkerMetrics metrics;
  worker::BufferBudget budget{0};
  worker::BufferGate buffers{loop, budget};
  worker::Context context{0, loop, config, metrics, buffers};
};

}  // namespace hbone::test
