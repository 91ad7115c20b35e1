#include "metrics/worker_metrics.h"

namespace hbone::metrics {

const char* tls_result_name(TlsResult r) {
  switch (r) {
    case TlsResult::ok: return "ok";
    case TlsResult::no_certificate: return "no_certificate";
    case TlsResult::bad_certificate: return "bad_certificate";
    case TlsResult::alpn: return "alpn";
    case TlsResult::spiffe_id: return "spiffe_id";
    case TlsResult::trust_domain: return "trust_domain";
    case TlsResult::identity: return "identity";
    case TlsResult::timeout: return "timeout";
    case TlsResult::error: return "error";
    case TlsResult::count: break;
  }
  return "error";
}

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
