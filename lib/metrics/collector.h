#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "metrics/worker_metrics.h"

namespace hbone::metrics {

// What the process counts outside the workers (written by the main thread only).
struct ProcessMetrics {
  Counter reloads_ok;
  Counter reloads_failed;
  std::atomic<bool> heap_known{false};  // tcmalloc builds
  Gauge heap_allocated;
  Gauge heap_free;
  bool heap_released_known = false;  // the allocator hands free heap back (not sanitizers')
  Counter heap_released;  // main thread
  // Unix seconds when our certificate and the soonest of the CA bundle expire (0: no TLS).
  std::atomic<int64_t> own_certificate_expiry{0};
  std::atomic<int64_t> ca_certificate_expiry{0};
  uint64_t buffer_budget = 0;  // limits.buffer_memory (0: none), set before the workers start
};

// Sums the workers' metrics into Prometheus families (Istio TCP names plus hbone_*).
// Reads only atomics and locked maps: safe from the admin thread while workers run.
std::vector<prometheus::MetricFamily> collect(const std::vector<const WorkerMetrics*>& workers,
                                              const ProcessMetrics& process);

}  // namespace hbone::metrics
