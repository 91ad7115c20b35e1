#include "metrics/family.h"

#include <limits>
#include <utility>

namespace hbone::metrics {

FamilyBuilder::FamilyBuilder(Families& out, std::string name, std::string help, prometheus::MetricType type)
    : out_(out), index_(out.size()) {
  prometheus::MetricFamily& family = out.emplace_back();
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
}

void FamilyBuilder::value(Labels labels, double v) {
  prometheus::ClientMetric& m = family().metric.emplace_back();
  m.label = std::move(labels);
  if (family().type == prometheus::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
}

void FamilyBuilder::histogram(Labels labels, const std::vector<const Histogram*>& parts) {
  prometheus::ClientMetric& m = family().metric.emplace_back();
  m.label = std::move(labels);
  const auto& bounds = parts.front()->bounds();
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    for (const Histogram* h : parts) cumulative += h->count(i);
    if (i < bounds.size()) {
      m.histogram.bucket.push_back({cumulative, bounds[i]});
    }
  }
  m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = cumulative;
  for (const Histogram* h : parts) m.histogram.sample_sum += h->sum();
}

}  // namespace hbone::metrics
