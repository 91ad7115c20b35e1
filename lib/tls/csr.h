#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>

namespace hbone::tls {

// A key made in this process and the request a CA signs for it.
struct CertificateRequest {
  std::shared_ptr<EVP_PKEY> key;  // EC P-256; kept in memory only
  std::string csr;                // PEM
};

// An EC P-256 key and a CSR for `spiffe_id` (its only subject alternative name, a URI, as
// Istio's CA expects: it issues exactly the identity asked for), signed with the key
// (SHA-256). Throws TlsSetupError.
CertificateRequest make_certificate_request(const std::string& spiffe_id);

}  // namespace hbone::tls
