#pragma once

#include <uv.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>

#include <memory>

#include "net/byte_stream.h"
#include "tls/tls_context.h"
#include "tls/tls_session.h"
#include "util/byte_buffer.h"

namespace hbone::tls {

// The byte pipe under HTTP/2: TLS (or nothing, for h2c) over a ByteStream: a socket, or an
// in-process pipe (double HBONE's inner connection, tests). It reads in large chunks, runs the handshake, hands the plaintext up record
// by record, seals what the layer above writes into one outbound queue and writes that with
// as few writes as the stream takes. It never sees a frame, as Envoy's transport socket
// sits under its codec and nghttpx's Connection under Http2Session.
class SecureStream final : public net::IoHandler {
 public:
  // What the layer above (the HTTP/2 session) is told. After any call the stream may have
  // been closed by it; the stream checks before going on.
  class Handler {
   public:
    // TLS is through (`tls`), or there is none (h2c, null): check the peer and start.
    virtual void on_secure(TlsSession* tls) = 0;
    // Decrypted bytes, in order; false: take no more input (the layer above ended).
    virtual bool on_plaintext(std::span<const uint8_t> bytes) = 0;
    // The plaintext handed up so far is about to be reused: finish with it now.
    virtual void on_plaintext_released() = 0;
    // All of one socket read was handed up.
    virtual void on_input_done() = 0;
    // The socket took `written` bytes in all so far.
    virtual void on_sent(uint64_t written) = 0;
    // Watermark: the outbound queue is below the high-water mark again, produce more.
    virtual void on_below_high_water() = 0;
    // The stream ended (peer closed, socket or TLS error); `handshake` when TLS never got
    // through (TlsSession::failure() says why).
    virtual void on_stream_closed(const std::string& reason, bool handshake) = 0;

   protected:
    ~Handler() = default;
  };

  struct Options {
    // Unsent bytes above which the layer above should stop producing.
    size_t high_water = 1 << 20;
  };

  // `tls` null: h2c (plain bytes).
  SecureStream(const TlsContext* tls, Options options, Handler& handler);
  ~SecureStream();
  SecureStream(const SecureStream&) = delete;
  SecureStream& operator=(const SecureStream&) = delete;

  // Takes the connected stream; a client sends its ClientHello at once.
  void start(std::unique_ptr<net::ByteStream> stream, bool client);
  // Stops watching the stream; nothing more is read, written or reported.
  void close();

  // Queues `bytes` (sealed into TLS records unless h2c); false on a fatal TLS error.
  bool seal(const uint8_t* bytes, size_t n);
  // Writes what is queued; watches for writability while some remains.
  void write();

  size_t queued() const { return out().size(); }
  size_t high_water() const { return high_water_; }
  bool above_high_water() const { return queued() >= high_water_; }
  uint64_t written() const { return written_; }
  // The TLS session (null with h2c): peer identity, ALPN, why a handshake failed.
  const TlsSession* session() const { return tls_ ? &*tls_ : nullptr; }
  // Cipher, record counts, queue and what it waits for (/debug/tunnels).
  void describe(nlohmann::json& out) const;
  // Frees buffers while nothing is in them (an idle connection keeps only its socket).
  void shrink();

  void on_io(int status, int events) override;

 private:
  void read_stream();
  void process_input();
  void process_records();
  void fail(const std::string& reason, bool handshake = false);
  ByteBuffer& in() { return tls_ ? tls_->inbound() : plain_in_; }
  ByteBuffer& out() { return tls_ ? tls_->outbound() : plain_out_; }
  const ByteBuffer& out() const { return tls_ ? tls_->outbound() : plain_out_; }

  const size_t high_water_;
  Handler& handler_;
  std::optional<TlsSession> tls_;  // empty with h2c
  ByteBuffer plain_in_;            // h2c
  ByteBuffer plain_out_;
  std::unique_ptr<net::ByteStream> stream_;  // closed (no reset) with this object
  uint64_t written_ = 0;
  bool secure_ = false;  // on_secure() was called
  bool closed_ = false;
};

}  // namespace hbone::tls
