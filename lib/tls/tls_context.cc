#include "tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls/certificate_identity.h"
#include "tls/ssl_handles.h"

namespace hbone::tls {
namespace {

constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
              unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpnH2, sizeof(kAlpnH2), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    // HBONE has no HTTP/1.1 fallback: refuse the handshake instead of guessing.
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::string last_ssl_error() {
  unsigned long code = ERR_get_error();
  unsigned long next;
  while ((next = ERR_get_error()) != 0) code = next;
  if (code == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

namespace {

// A context for TLS 1.3 only whose idle connections hold no buffers.
SslCtxPtr new_tls13_context() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) throw TlsSetupError("tls: cannot create SSL_CTX: " + last_ssl_error());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  // Idle tunnels' connections should not pin 2 x 17 KiB of TLS buffers each.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace

TlsContext::TlsContext(Role role, bool own_record_layer, uint64_t records_per_key)
    : ctx_(new_tls13_context()),
      role_(role),
      own_record_layer_(own_record_layer),
      records_per_key_(records_per_key) {}

TlsContext::TlsContext(const Credentials& files, Role role, bool own_record_layer, uint64_t records_per_key)
    : TlsContext(role, own_record_layer, records_per_key) {
  SSL_CTX* ctx = ctx_.get();
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
    throw TlsSetupError("tls.cert: cannot load certificate chain \"" + files.cert +
                        "\": " + last_ssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw TlsSetupError("tls.key: cannot load private key \"" + files.key +
                        "\": " + last_ssl_error());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    throw TlsSetupError("tls.key: \"" + files.key + "\" does not match tls.cert \"" +
                        files.cert + "\"");
  }
  if (SSL_CTX_load_verify_locations(ctx, files.ca.c_str(), nullptr) != 1) {
    throw TlsSetupError("tls.ca: cannot load trust bundle \"" + files.ca +
                        "\": " + last_ssl_error());
  }
  require_mtls("tls.cert: \"" + files.cert + "\"");
}

TlsContext::TlsContext(const IssuedIdentity& issued, Role role, bool own_record_layer, uint64_t records_per_key)
    : TlsContext(role, own_record_layer, records_per_key) {
  SSL_CTX* ctx = ctx_.get();
  auto each_certificate = [](const std::string& pem, auto&& take) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    size_t n = 0;
    while (bio) {
      X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
      if (!cert) break;
      take(cert.get(), n++);
    }
    last_ssl_error();  // the end of the text reads as an error: clear it
    return n;
  };
  bool loaded = true;
  size_t chain = each_certificate(issued.chain, [&](X509* cert, size_t i) {
    loaded &= (i == 0 ? SSL_CTX_use_certificate(ctx, cert) : SSL_CTX_add1_chain_cert(ctx, cert)) == 1;
  });
  if (chain == 0 || !loaded) throw TlsSetupError("issued certificate chain cannot be used: " + last_ssl_error());
  if (!issued.key || SSL_CTX_use_PrivateKey(ctx, issued.key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    throw TlsSetupError("issued certificate does not match the key it was requested for");
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  size_t roots = each_certificate(issued.roots, [&](X509* cert, size_t) { X509_STORE_add_cert(store, cert); });
  if (roots == 0) throw TlsSetupError("no root certificate to trust peers by");
  require_mtls("issued certificate");
}

void TlsContext::require_mtls(const std::string& cert_name) {
  SSL_CTX* ctx = ctx_.get();
  std::string why;
  auto id = spiffe_id_of(SSL_CTX_get0_certificate(ctx), why);
  if (!id) throw TlsSetupError(cert_name + ": " + why);
  identity_ = id->to_string();
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  if (role_ == Role::server) {
    SSL_CTX_set_alpn_select_cb(ctx, select_h2, nullptr);
    // No resumption: every connection proves its identity with a fresh certificate.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
  } else {
    SSL_CTX_set_alpn_protos(ctx, kAlpnH2, sizeof(kAlpnH2));
  }
}

TlsContext::TlsContext(const ServerAuth& server)
    : ctx_(SSL_CTX_new(TLS_method())),
      role_(Role::client),
      own_record_layer_(false),
      records_per_key_(kRecordsPerKey),
      server_name_(server.server_name) {
  if (!ctx_) throw TlsSetupError("tls: cannot create SSL_CTX: " + last_ssl_error());
  SSL_CTX* ctx = ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (SSL_CTX_load_verify_locations(ctx, server.root_ca.c_str(), nullptr) != 1) {
    throw TlsSetupError("cannot load root certificates \"" + server.root_ca + "\": " + last_ssl_error());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (server_name_.empty()) throw TlsSetupError("no server name to check the control plane's certificate for");
  if (!server_name_.starts_with("spiffe://")) {
    // The name must be one of the certificate's DNS names (not its subject CN), as Go's
    // crypto/tls checks it for ztunnel.
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    if (X509_VERIFY_PARAM_set1_host(param, server_name_.data(), server_name_.size()) != 1) {
      throw TlsSetupError("cannot check for server name \"" + server_name_ + "\": " + last_ssl_error());
    }
  }
  SSL_CTX_set_alpn_protos(ctx, kAlpnH2, sizeof(kAlpnH2));
}

}  // namespace hbone::tls
