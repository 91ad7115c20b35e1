#include "tls/der.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls/ssl_handles.h"
#include "tls/tls_context.h"

namespace hbone::tls {

std::string der_certificates_to_pem(std::string_view der, const std::string& what) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = p + der.size();
  BioPtr out(BIO_new(BIO_s_mem()));
  size_t count = 0;
  while (p < end) {
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(end - p)));
    if (!cert) throw TlsSetupError(what + ": certificate " + std::to_string(count + 1) + " is not DER: " + last_ssl_error());
    if (!out || PEM_write_bio_X509(out.get(), cert.get()) != 1) throw TlsSetupError(what + ": " + last_ssl_error());
    ++count;
  }
  if (count == 0) throw TlsSetupError(what + ": no certificate");
  char* data = nullptr;  // BoringSSL's signature takes char**, OpenSSL's macro any pointer
  long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::shared_ptr<EVP_PKEY> pkcs8_private_key(std::string_view der, const std::string& what) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, Deleter<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>> info(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  EVP_PKEY* key = info ? EVP_PKCS82PKEY(info.get()) : nullptr;
  if (!key) throw TlsSetupError(what + ": not an unencrypted PKCS#8 DER key: " + last_ssl_error());
  return std::shared_ptr<EVP_PKEY>(key, EvpPkeyFree());
}

}  // namespace hbone::tls
