#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "metrics/worker_metrics.h"

namespace hbone::metrics {

// Sums the workers' metrics into Prometheus families (Istio TCP names plus hbone_*).
// Reads only atomics and locked maps: safe from the admin thread while workers run.
std::vector<prometheus::MetricFamily> collect(const std::vector<const WorkerMetrics*>& workers);

}  // namespace hbone::metrics
