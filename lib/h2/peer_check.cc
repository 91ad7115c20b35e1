#include "h2/peer_check.h"

namespace hbone::h2 {

PeerCheck check_peer(std::string_view alpn, const std::optional<identity::SpiffeId>& id, std::string_view id_error,
                     std::string_view trust_domain) {
  if (alpn != "h2") return {TlsResult::alpn, "", "peer did not negotiate ALPN h2"};
  if (!id) return {TlsResult::spiffe_id, "", std::string(id_error)};
  PeerCheck check{TlsResult::ok, id->to_string(), ""};
  if (id->trust_domain != trust_domain) {
    check.result = TlsResult::trust_domain;
    check.why = "peer identity " + check.identity + " is not in trust domain " + std::string(trust_domain);
  }
  return check;
}

TlsResult handshake_result(tls::TlsSession::Failure failure) {
  switch (failure) {
    case tls::TlsSession::Failure::no_certificate: return TlsResult::no_certificate;
    case tls::TlsSession::Failure::bad_certificate: return TlsResult::bad_certificate;
    case tls::TlsSession::Failure::none:
    case tls::TlsSession::Failure::error: break;
  }
  return TlsResult::error;
}

}  // namespace hbone::h2
