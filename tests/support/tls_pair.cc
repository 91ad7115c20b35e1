#include "tls_pair.h"

#if defined(OPENSSL_IS_BORINGSSL)

#include <openssl/bio.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <utility>

namespace hbone::test {
namespace {

struct Contexts {
  bssl::UniquePtr<SSL_CTX> server{SSL_CTX_new(TLS_method())};
  bssl::UniquePtr<SSL_CTX> client{SSL_CTX_new(TLS_method())};

  Contexts() {
    bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
    EC_KEY* ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    EC_KEY_generate_key(ec);
    EVP_PKEY_assign_EC_KEY(key.get(), ec);
    bssl::UniquePtr<X509> cert(X509_new());
    X509_set_version(cert.get(), X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                               reinterpret_cast<const uint8_t*>("test"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
    X509_set_pubkey(cert.get(), key.get());
    X509_sign(cert.get(), key.get(), EVP_sha256());
    for (SSL_CTX* ctx : {server.get(), client.get()}) SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_use_certificate(server.get(), cert.get());
    SSL_CTX_use_PrivateKey(server.get(), key.get());
  }
};

}  // namespace

TlsPair handshake_pair(size_t tickets) {
  static Contexts contexts;
  SSL_CTX_set_num_tickets(contexts.server.get(), tickets);
  bssl::UniquePtr<SSL> server(SSL_new(contexts.server.get()));
  bssl::UniquePtr<SSL> client(SSL_new(contexts.client.get()));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  if (!BIO_new_bio_pair(&server_bio, 1 << 20, &client_bio, 1 << 20)) return {};
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  for (int i = 0; i < 10 && !(SSL_is_init_finished(server.get()) && SSL_is_init_finished(client.get())); ++i) {
    SSL_do_handshake(client.get());
    SSL_do_handshake(server.get());
  }
  if (!SSL_is_init_finished(server.get()) || !SSL_is_init_finished(client.get())) return {};
  return {std::move(client), std::move(server)};
}

}  // namespace hbone::test

#endif  // OPENSSL_IS_BORINGSSL
