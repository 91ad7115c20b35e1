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

Counter* WorkerMetrics::policy_decision(std::string_view policy, bool allowed) {
  std::lock_guard lock(istio_mutex_);
  std::pair<std::string, bool> key{policy, allowed};
  auto it = policy_decisions_.find(key);
  if (it != policy_decisions_.end()) return &it->second;
  if (policy_decisions_.size() >= kMaxIstioLabelSets) key.first = "overflow";
  return &policy_decisions_[key];
}

}  // namespace hbone::metrics
