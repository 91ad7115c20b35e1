#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <stdexcept>
#include <cstdint>
#include <string>

namespace hbone::tls {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// A TLS setup failure; what() names the config key at fault.
class TlsSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// PEM files: our chain, its key, the trust bundle (tls.cert, tls.key, tls.ca).
struct Credentials {
  std::string cert;
  std::string key;
  std::string ca;
};

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// A certificate a CA issued to this process (istiod's, by CSR): the key made here and never
// written anywhere, the chain the CA returned (PEM, the leaf first) and the roots to trust
// (PEM).
struct IssuedIdentity {
  std::shared_ptr<EVP_PKEY> key;
  std::string chain;
  std::string roots;
};

// A control plane's server (istiod's xDS and CA): its chain must lead to `root_ca` (a PEM
// file) and its certificate must name `server_name`, a DNS name (checked by the library
// during the handshake) or a spiffe:// id (checked by the connection after it).
struct ServerAuth {
  std::string root_ca;
  std::string server_name;
};

// HBONE (from Credentials): TLS 1.3 only, ALPN "h2" only, certificates required and verified
// on both sides against the trust bundle; the SPIFFE identity is checked after the handshake
// by the connection. A control-plane client (from ServerAuth): TLS 1.2 or 1.3 as istiod's Go
// server offers, ALPN "h2", no client certificate (its calls carry a token), records through
// SSL_read/SSL_write (no hot path here).
class TlsContext {
 public:
  enum class Role { server, client };
  // RFC 8446 §5.5: AES-GCM keys protect at most 2^24.5 full-size records.
  static constexpr uint64_t kRecordsPerKey = uint64_t{1} << 24;

  // `own_record_layer`: sessions hand their records to RecordLayer after the handshake
  // (BoringSSL builds), else SSL_read/SSL_write keep them. `records_per_key`: records a
  // session seals under one key before it sends a KeyUpdate, either way (tests lower it
  // to see many).
  TlsContext(const Credentials& files, Role role, bool own_record_layer = true,
             uint64_t records_per_key = kRecordsPerKey);
  // The same rules with an issued certificate. Throws TlsSetupError.
  TlsContext(const IssuedIdentity& issued, Role role, bool own_record_layer = true,
             uint64_t records_per_key = kRecordsPerKey);
  explicit TlsContext(const ServerAuth& server);
  bool own_record_layer() const { return own_record_layer_; }
  uint64_t records_per_key() const { return records_per_key_; }
  SSL_CTX* get() const { return ctx_.get(); }
  Role role() const { return role_; }
  // Our own SPIFFE id, from tls.cert (empty for a control-plane client).
  const std::string& identity() const { return identity_; }
  // A control-plane client's: the name the server must present (SNI too, unless a spiffe:// id).
  const std::string& server_name() const { return server_name_; }

 private:
  // An HBONE context (TLS 1.3) with nothing loaded yet: the two public ones start here.
  TlsContext(Role role, bool own_record_layer, uint64_t records_per_key);
  // HBONE's rules, once the certificate, key and trust are loaded: the peer's certificate
  // required and verified, ALPN h2, no resumption on the server side; our SPIFFE id read.
  void require_mtls(const std::string& cert_name);

  SslCtxPtr ctx_;
  Role role_;
  bool own_record_layer_;
  uint64_t records_per_key_;
  std::string identity_;
  std::string server_name_;
};

// The newest OpenSSL error on this thread as text, and clears the queue.
std::string last_ssl_error();

}  // namespace hbone::tls
