#pragma once

#include <openssl/x509.h>

#include <optional>
#include <string>

#include "identity/spiffe_id.h"

namespace hbone::tls {

// The SPIFFE id of an X.509-SVID: its only spiffe:// URI SAN. nullopt with `error` set
// when there is none, more than one (SPIFFE X.509-SVID §2), or it is malformed.
std::optional<identity::SpiffeId> spiffe_id_of(X509* cert, std::string& error);

}  // namespace hbone::tls
