#include "tls/csr.h"

#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls/ssl_handles.h"
#include "tls/tls_context.h"

namespace hbone::tls {
namespace {

void free_extensions(STACK_OF(X509_EXTENSION)* s) { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }

std::shared_ptr<EVP_PKEY> make_p256_key() {
  std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    throw TlsSetupError("cannot make an EC P-256 key: " + last_ssl_error());
  }
  return std::shared_ptr<EVP_PKEY>(key, EvpPkeyFree());
}

}  // namespace

CertificateRequest make_certificate_request(const std::string& spiffe_id) {
  CertificateRequest out{make_p256_key(), {}};
  std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>> req(X509_REQ_new());
  std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<STACK_OF(X509_EXTENSION), free_extensions>> extensions(
      sk_X509_EXTENSION_new_null());
  std::string san = "URI:" + spiffe_id;
  X509_EXTENSION* alt_names = X509V3_EXT_nconf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  if (alt_names && (!extensions || !sk_X509_EXTENSION_push(extensions.get(), alt_names))) {
    X509_EXTENSION_free(alt_names);  // not taken by the stack
    alt_names = nullptr;
  }
  if (!req || !alt_names) {
    throw TlsSetupError("cannot make a certificate request for \"" + spiffe_id + "\": " + last_ssl_error());
  }
  BioPtr pem(BIO_new(BIO_s_mem()));
  if (X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), out.key.get()) != 1 ||
      X509_REQ_add_extensions(req.get(), extensions.get()) != 1 ||
      X509_REQ_sign(req.get(), out.key.get(), EVP_sha256()) == 0 || !pem ||
      PEM_write_bio_X509_REQ(pem.get(), req.get()) != 1) {
    throw TlsSetupError("cannot sign a certificate request for \"" + spiffe_id + "\": " + last_ssl_error());
  }
  char* text = nullptr;
  long n = BIO_get_mem_data(pem.get(), &text);
  out.csr.assign(text, static_cast<size_t>(n));
  return out;
}

}  // namespace hbone::tls
