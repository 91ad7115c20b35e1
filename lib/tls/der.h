#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace hbone::tls {

// The SPIFFE Workload API hands certificates and keys as ASN.1 DER; hbone's TLS contexts
// and /certs read PEM (tls::IssuedIdentity). Both throw TlsSetupError naming `what`.

// Concatenated DER certificates (an SVID's chain, a bundle) as PEM text, in order; at
// least one.
std::string der_certificates_to_pem(std::string_view der, const std::string& what);
// An unencrypted PKCS#8 DER private key, held in memory only.
std::shared_ptr<EVP_PKEY> pkcs8_private_key(std::string_view der, const std::string& what);

}  // namespace hbone::tls
