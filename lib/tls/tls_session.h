#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>

#include "identity/spiffe_id.h"
#include "tls/record_layer.h"
#include "tls/tls_context.h"
#include "util/byte_buffer.h"

namespace hbone::tls {

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// One TLS connection whose ciphertext goes through our own buffers instead of the socket:
// the caller reads the socket in large chunks into inbound() and writes outbound() with
// one large write. (A socket BIO would cost two read() calls and one write() per 16 KiB
// record.) After the handshake, with BoringSSL, records are opened in place in inbound()
// and sealed straight into outbound() (RecordLayer); with OpenSSL through SSL_read/SSL_write.
class TlsSession {
 public:
  enum class Status { ok, want_io, closed, failed };
  // Why a handshake failed, as far as TLS can tell.
  enum class Failure { none, no_certificate, bad_certificate, error };

  explicit TlsSession(const TlsContext& ctx);

  // Ciphertext received from the peer.
  ByteBuffer& inbound() { return in_; }
  // Ciphertext to send to the peer.
  ByteBuffer& outbound() { return out_; }
  const ByteBuffer& outbound() const { return out_; }

  Status handshake();

  // The next decrypted bytes (ok; possibly none), valid until inbound() is next written
  // to; want_io when more ciphertext is needed. Replies (a KeyUpdate, an alert) may be
  // queued in outbound() meanwhile.
  Status read(std::span<const uint8_t>& plaintext);
  // Whether read()'s plaintext outlives the next read() (in place: until inbound() is
  // next written to), or is overwritten by it (SSL_read).
  bool keeps_plaintext() const;
  // Encrypts all of `bytes` into outbound(); false only on a fatal TLS error.
  bool write(const uint8_t* bytes, size_t n);

  // Why the last call failed: TLS alert, certificate verification, protocol error.
  const std::string& error() const { return error_; }
  // The same as a handshake outcome.
  Failure failure() const { return failure_; }
  std::string alpn() const;
  // The peer certificate's SPIFFE id when it has exactly one, else nullopt with error().
  std::optional<identity::SpiffeId> peer_identity();
  // How records are protected ("in-place": RecordLayer, "ssl": SSL_read/SSL_write) and,
  // in place, how many went each way and how many KeyUpdates.
  void describe(nlohmann::json& out) const;
  // Frees the buffers while nothing is in them.
  void shrink();

 private:
  Status fail_or_retry(int rc);

  // What is kept of the handshake once the record layer took over and the SSL was freed:
  // no key BoringSSL still held can seal or open a record again (its write key would
  // reuse nonces our records already used).
  struct Handshaken {
    std::string alpn;
    std::optional<identity::SpiffeId> peer;
    std::string peer_error;
    std::string cipher;
  };

  std::unique_ptr<SSL, SslFree> ssl_;  // null once the record layer took over
  const bool own_record_layer_;        // tls.record_layer: own
  const uint64_t records_per_key_;     // then a KeyUpdate (TlsContext's)
  std::optional<Handshaken> handshaken_;
  // Through SSL_write (OpenSSL, or BoringSSL when the record layer could not take over):
  // records sealed under the current key, rekeyed at records_per_key_.
  uint64_t records_written_ = 0;
  ByteBuffer in_;
  ByteBuffer out_;
  ByteBuffer plain_;  // SSL_read's output
#if defined(OPENSSL_IS_BORINGSSL)
  std::optional<RecordLayer> records_;
#endif
  std::string error_;
  Failure failure_ = Failure::none;
};

}  // namespace hbone::tls
