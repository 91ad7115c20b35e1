#pragma once

#include <openssl/ssl.h>

#if defined(OPENSSL_IS_BORINGSSL)

#include <openssl/aead.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/byte_buffer.h"

namespace hbone::tls {

// TLS 1.3 record protection (RFC 8446 §5) done here with BoringSSL's AEADs, from the
// traffic secrets BoringSSL exports once its handshake is done. Records are decrypted in
// place in the receive buffer and sealed from the caller's bytes straight into the send
// buffer: SSL_read/SSL_write copy every record once more through BoringSSL's own
// buffers, and bssl::OpenRecord/SealRecord refuse TLS 1.3. Post-handshake messages are
// handled here too: KeyUpdate (answered when asked, and sent by us every
// `records_per_key` records, below AES-GCM's limit), NewSessionTicket (ignored: hbone
// does not resume sessions).
class RecordLayer {
 public:
  enum class Result { record, need_more, closed, failed };

  // Takes over `ssl`'s TLS 1.3 connection after its handshake; nullopt with `why` when it
  // cannot (another version or cipher, bytes still buffered in `ssl`).
  static std::optional<RecordLayer> take_over(SSL* ssl, std::string& why, uint64_t records_per_key);

  // Where one direction starts: its traffic secret and next sequence number.
  struct Traffic {
    std::span<const uint8_t> secret;
    uint64_t sequence = 0;
  };
  // The record layer of TLS 1.3 cipher suite `suite` (0x1301-0x1303) from its traffic
  // secrets: what take_over() builds from BoringSSL's, and known-answer tests from RFC 8448's.
  static std::optional<RecordLayer> from_secrets(uint16_t suite, bool server, Traffic read, Traffic write,
                                                 std::string& why, uint64_t records_per_key);

  // Opens the first record of `in` in place. `consumed` is its length whatever the result
  // (0 with need_more). record: `plaintext` (inside `in`, possibly empty) is application
  // data. Replies to the peer (a KeyUpdate, a fatal alert) are appended to `out`.
  Result open(std::span<uint8_t> in, std::span<const uint8_t>& plaintext, size_t& consumed,
              ByteBuffer& out);
  // Appends `bytes` to `out` as application data records; false once the layer failed
  // (nothing is sealed after a fatal alert).
  bool seal(const uint8_t* bytes, size_t n, ByteBuffer& out);
  // One record of any inner content type with `padding` zeros (§5.4): what a peer may
  // send, for tests and fuzzers that must make records a real stack would not.
  bool seal_inner(uint8_t type, std::span<const uint8_t> content, size_t padding, ByteBuffer& out);

  // Why open() failed or closed.
  const std::string& error() const { return error_; }
  uint64_t records_sealed() const { return records_sealed_; }
  uint64_t records_opened() const { return records_opened_; }
  uint64_t key_updates_sent() const { return key_updates_sent_; }
  uint64_t key_updates_received() const { return key_updates_received_; }

 private:
  // One direction's key: the AEAD, its static IV and next sequence number (§5.3), and the
  // traffic secret the next generation is derived from. Wiped when replaced or gone.
  struct Direction {
    Direction() = default;
    Direction(Direction&& other) noexcept;
    Direction& operator=(Direction&& other) noexcept;
    ~Direction();
    bssl::UniquePtr<EVP_AEAD_CTX> aead;
    std::vector<uint8_t> secret;
    uint8_t iv[12] = {};
    uint64_t sequence = 0;
  };
  // Once failed or closed, every later open() says so again and seal() seals nothing.
  enum class State { open, closed, failed };

  RecordLayer(const EVP_AEAD* aead, const EVP_MD* hash, uint64_t records_per_key, bool server)
      : aead_(aead), hash_(hash), records_per_key_(records_per_key), server_(server) {}
  bool install(Direction& direction, std::span<const uint8_t> secret, uint64_t sequence);
  Result alert(std::span<const uint8_t> body, ByteBuffer& out);
  // §7.2: the next generation of a direction's traffic secret.
  bool update(Direction& direction);
  void nonce(const Direction& direction, uint8_t out[12]) const;
  bool seal_record(uint8_t type, const uint8_t* bytes, size_t n, size_t padding, ByteBuffer& out);
  bool send_key_update(bool request_peer, ByteBuffer& out);
  Result handshake_messages(ByteBuffer& out);
  Result fail(uint8_t alert, std::string why, ByteBuffer& out);

  const EVP_AEAD* aead_;
  const EVP_MD* hash_;
  uint64_t records_per_key_;
  bool server_;
  Direction read_;
  Direction write_;
  std::vector<uint8_t> handshake_;  // post-handshake messages split across records
  State state_ = State::open;
  bool answered_key_update_ = false;  // a requested KeyUpdate sent, no application data since
  unsigned key_updates_in_a_row_ = 0;
  unsigned empty_records_in_a_row_ = 0;
  unsigned warning_alerts_in_a_row_ = 0;
  uint64_t records_sealed_ = 0;
  uint64_t records_opened_ = 0;
  uint64_t key_updates_sent_ = 0;
  uint64_t key_updates_received_ = 0;
  std::string error_;
};

}  // namespace hbone::tls

#endif  // OPENSSL_IS_BORINGSSL
