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

// TLS 1.3 only, ALPN "h2" only, certificates required and verified on both sides against
// the trust bundle. The SPIFFE identity is checked after the handshake by the connection.
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
  bool own_record_layer() const { return own_record_layer_; }
  uint64_t records_per_key() const { return records_per_key_; }
  SSL_CTX* get() const { return ctx_.get(); }
  Role role() const { return role_; }
  // Our own SPIFFE id, from tls.cert.
  const std::string& identity() const { return identity_; }

 private:
  SslCtxPtr ctx_;
  Role role_;
  bool own_record_layer_;
  uint64_t records_per_key_;
  std::string identity_;
};

// The newest OpenSSL error on this thread as text, and clears the queue.
std::string last_ssl_error();

}  // namespace hbone::tls
