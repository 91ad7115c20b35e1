#include "metrics/worker_metrics.h"

namespace hbone::metrics {

IstioTcp* WorkerMetrics::istio(IstioLabels labels) {
  std::lock_guard lock(istio_mutex_);
  auto it = istio_.find(labels);
  if (it != istio_.end()) return &it->second;
  if (istio_.size() >= kMaxIstioLabelSets) {
    labels.source_principal = labels.destination_principal = "overflow";
  }
  return &istio_[labels];
}

}  // namespace hbone::metrics
