#pragma once

#include <array>
#include <vector>

#include "metrics/family.h"

namespace hbone::h2 {

// How a TLS handshake and the peer checks after it ended (hbone_tls_handshakes_total).
enum class TlsResult {
  ok, no_certificate, bad_certificate, alpn, spiffe_id, trust_domain, identity, timeout, error, count
};
const char* label(TlsResult result);

// One worker's handshake counters (held in its metrics::LayerStats).
struct HandshakeStats {
  std::array<metrics::ByEnum<TlsResult, metrics::Counter>, metrics::kRoles> tls_handshakes;
};
void collect(metrics::Families& out, const std::vector<const HandshakeStats*>& workers);

}  // namespace hbone::h2
