#include "h2/handshake_stats.h"

namespace hbone::h2 {

const char* label(TlsResult result) {
  switch (result) {
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
  return "?";
}

void collect(metrics::Families& out, const std::vector<const HandshakeStats*>& workers) {
  metrics::by_role_and_label(out, "hbone_tls_handshakes_total", "TLS handshakes and peer checks by result", "result",
                             workers, &HandshakeStats::tls_handshakes);
}

}  // namespace hbone::h2
