#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/counters.h"
#include "metrics/dimensions.h"

namespace hbone::metrics {

using Families = std::vector<prometheus::MetricFamily>;
using Labels = std::vector<prometheus::ClientMetric::Label>;

// Builds one family at the end of `out`. Held by index, not reference: two builders may be
// alive at once, and the second one's emplace_back can move the first one's family (found
// by ASan once the family count crossed a capacity step).
class FamilyBuilder {
 public:
  FamilyBuilder(Families& out, std::string name, std::string help, prometheus::MetricType type);
  void value(Labels labels, double v);
  // Sums per-worker histograms with the same bounds.
  void histogram(Labels labels, const std::vector<const Histogram*>& parts);

 private:
  prometheus::MetricFamily& family() { return out_[index_]; }
  Families& out_;
  size_t index_;
};

// field(part) summed over the parts (one per worker).
template <typename S, typename F>
double sum(const std::vector<const S*>& parts, F&& field) {
  double total = 0;
  for (const S* part : parts) total += static_cast<double>(field(*part));
  return total;
}

// A counter family with one sample per value of `E` but `none` (labelled `label_name`):
// `member`, counters by E, summed over the parts.
template <typename E, typename S>
void by_label(Families& out, const char* name, const char* help, const char* label_name,
              const std::vector<const S*>& parts, const ByEnum<E, Counter> S::*member) {
  FamilyBuilder f(out, name, help, prometheus::MetricType::Counter);
  ByEnum<E, Counter>::for_each([&](E e) {
    if (std::string_view(label(e)) == "none") return;
    f.value({{label_name, label(e)}}, sum(parts, [&](const S& s) { return (s.*member)[e].value(); }));
  });
}

// The same by role too; each sum times `scale` (1e-6: microseconds counted, seconds shown).
template <typename E, typename S>
void by_role_and_label(Families& out, const char* name, const char* help, const char* label_name,
                       const std::vector<const S*>& parts, const std::array<ByEnum<E, Counter>, kRoles> S::*member,
                       double scale = 1) {
  FamilyBuilder f(out, name, help, prometheus::MetricType::Counter);
  for (int r = 0; r < kRoles; ++r) {
    ByEnum<E, Counter>::for_each([&](E e) {
      if (std::string_view(label(e)) == "none") return;
      f.value({{"role", role_name(r)}, {label_name, label(e)}},
              scale * sum(parts, [&](const S& s) { return (s.*member)[r][e].value(); }));
    });
  }
}

}  // namespace hbone::metrics
