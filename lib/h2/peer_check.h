#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "identity/spiffe_id.h"
#include "h2/handshake_stats.h"
#include "tls/tls_session.h"

namespace hbone::h2 {

// What a finished handshake says about the peer, before its role's own check: it spoke
// ALPN h2, its certificate names exactly one SPIFFE id (`id`, or why not in `id_error`), in
// our trust domain.
struct PeerCheck {
  TlsResult result = TlsResult::ok;
  std::string identity;  // the SPIFFE id, once there is one
  std::string why;       // when not ok
};
PeerCheck check_peer(std::string_view alpn, const std::optional<identity::SpiffeId>& id, std::string_view id_error,
                     std::string_view trust_domain);

// A handshake that failed, by what TLS reported.
TlsResult handshake_result(tls::TlsSession::Failure failure);

}  // namespace hbone::h2
