#include "tls/record_layer.h"

#if defined(OPENSSL_IS_BORINGSSL)

#include <openssl/digest.h>
#include <openssl/hkdf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace hbone::tls {
namespace {

constexpr size_t kHeader = 5;
constexpr size_t kNonce = 12;
constexpr size_t kMaxPlaintext = 16384;                // §5.1: 2^14
constexpr size_t kMaxCiphertext = kMaxPlaintext + 256;  // §5.2
constexpr uint8_t kAlert = 21;
constexpr uint8_t kHandshake = 22;
constexpr uint8_t kApplicationData = 23;
constexpr uint8_t kNewSessionTicket = 4;
constexpr uint8_t kKeyUpdate = 24;
// BoringSSL's own limits: a peer may not make us rekey, open empty records or read warning
// alerts forever without sending data.
constexpr unsigned kMaxKeyUpdatesInARow = 32;
constexpr unsigned kMaxEmptyRecordsInARow = 32;
constexpr unsigned kMaxWarningAlertsInARow = 4;
// BoringSSL's limits on a post-handshake message: a client's may be a ticket, a server's
// only a KeyUpdate.
constexpr size_t kMaxClientHandshakeMessage = 16384;
constexpr size_t kMaxServerHandshakeMessage = 1;

// §7.1: HKDF-Expand-Label(secret, label, "", length).
bool expand_label(const EVP_MD* hash, std::span<const uint8_t> secret, std::string_view label,
                  uint8_t* out, size_t length) {
  constexpr std::string_view kPrefix = "tls13 ";
  uint8_t info[2 + 1 + 255 + 1];
  size_t label_length = kPrefix.size() + label.size();
  info[0] = static_cast<uint8_t>(length >> 8);
  info[1] = static_cast<uint8_t>(length);
  info[2] = static_cast<uint8_t>(label_length);
  std::memcpy(info + 3, kPrefix.data(), kPrefix.size());
  std::memcpy(info + 3 + kPrefix.size(), label.data(), label.size());
  info[3 + label_length] = 0;  // empty context
  return HKDF_expand(out, length, hash, secret.data(), secret.size(), info, 4 + label_length) == 1;
}

// §4.6.1: lifetime(4) age_add(4) nonce<0..255> ticket<1..2^16-1> extensions<0..2^16-2>,
// exactly filling the message, read as BoringSSL reads it: an empty ticket passes (hbone
// keeps no ticket), the extensions are parsed each whole, early_data (42) at most once with
// a 4-byte max_early_data_size, others ignored.
bool valid_ticket(const uint8_t* body, size_t length) {
  auto u16 = [body](size_t at) { return (size_t{body[at]} << 8) | body[at + 1]; };
  size_t at = 8;
  if (length < at + 1) return false;
  at += 1 + body[at];
  if (length < at + 2) return false;
  at += 2 + u16(at);
  if (length < at + 2) return false;
  size_t end = at + 2 + u16(at);
  if (end != length) return false;
  bool early_data = false;
  for (at += 2; at < end;) {
    if (end - at < 4) return false;
    size_t type = u16(at), size = u16(at + 2);
    at += 4;
    if (end - at < size) return false;
    if (type == 42) {
      if (early_data || size != 4) return false;
      early_data = true;
    }
    at += size;
  }
  return true;
}

}  // namespace

RecordLayer::Direction::Direction(Direction&& other) noexcept
    : aead(std::move(other.aead)), secret(std::move(other.secret)), sequence(other.sequence) {
  std::memcpy(iv, other.iv, sizeof(iv));
  OPENSSL_cleanse(other.iv, sizeof(other.iv));
}

RecordLayer::Direction& RecordLayer::Direction::operator=(Direction&& other) noexcept {
  if (this != &other) {
    OPENSSL_cleanse(secret.data(), secret.size());
    aead = std::move(other.aead);
    secret = std::move(other.secret);
    sequence = other.sequence;
    std::memcpy(iv, other.iv, sizeof(iv));
    OPENSSL_cleanse(other.iv, sizeof(other.iv));
  }
  return *this;
}

RecordLayer::Direction::~Direction() {
  OPENSSL_cleanse(secret.data(), secret.size());
  OPENSSL_cleanse(iv, sizeof(iv));
}

std::optional<RecordLayer> RecordLayer::take_over(SSL* ssl, std::string& why,
                                                  uint64_t records_per_key) {
  if (!SSL_is_init_finished(ssl) || SSL_version(ssl) != TLS1_3_VERSION) {
    why = "not an established TLS 1.3 connection";
    return std::nullopt;
  }
  if (SSL_has_pending(ssl)) {
    why = "records still buffered in BoringSSL";
    return std::nullopt;
  }
  bssl::Span<const uint8_t> read_secret, write_secret;
  if (!bssl::SSL_get_traffic_secrets(ssl, &read_secret, &write_secret)) {
    why = "BoringSSL gave no traffic secrets";
    return std::nullopt;
  }
  return from_secrets(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(ssl)), SSL_is_server(ssl) == 1,
                      {read_secret, SSL_get_read_sequence(ssl)}, {write_secret, SSL_get_write_sequence(ssl)}, why,
                      records_per_key);
}

std::optional<RecordLayer> RecordLayer::from_secrets(uint16_t suite, bool server, Traffic read, Traffic write,
                                                     std::string& why, uint64_t records_per_key) {
  const EVP_AEAD* aead = nullptr;
  const EVP_MD* hash = nullptr;
  switch (suite) {
    case 0x1301: aead = EVP_aead_aes_128_gcm(); hash = EVP_sha256(); break;
    case 0x1302: aead = EVP_aead_aes_256_gcm(); hash = EVP_sha384(); break;
    case 0x1303: aead = EVP_aead_chacha20_poly1305(); hash = EVP_sha256(); break;
    default:
      char name[32];
      std::snprintf(name, sizeof(name), "0x%04x", suite);
      why = std::string("unknown TLS 1.3 cipher suite ") + name;
      return std::nullopt;
  }
  if (read.secret.size() != EVP_MD_size(hash) || write.secret.size() != EVP_MD_size(hash)) {
    why = "traffic secrets of the wrong length";
    return std::nullopt;
  }
  RecordLayer layer(aead, hash, records_per_key, server);
  if (!layer.install(layer.read_, read.secret, read.sequence) ||
      !layer.install(layer.write_, write.secret, write.sequence)) {
    why = "cannot derive record keys";
    return std::nullopt;
  }
  return layer;
}

bool RecordLayer::install(Direction& direction, std::span<const uint8_t> secret, uint64_t sequence) {
  uint8_t key[EVP_AEAD_MAX_KEY_LENGTH];
  size_t key_length = EVP_AEAD_key_length(aead_);
  if (!expand_label(hash_, secret, "key", key, key_length) ||
      !expand_label(hash_, secret, "iv", direction.iv, kNonce)) {
    return false;
  }
  direction.aead.reset(EVP_AEAD_CTX_new(aead_, key, key_length, EVP_AEAD_DEFAULT_TAG_LENGTH));
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(direction.secret.data(), direction.secret.size());  // the generation it replaces
  direction.secret.assign(secret.begin(), secret.end());
  direction.sequence = sequence;
  return direction.aead != nullptr;
}

bool RecordLayer::update(Direction& direction) {
  std::vector<uint8_t> next(direction.secret.size());
  if (!expand_label(hash_, direction.secret, "traffic upd", next.data(), next.size())) return false;
  bool ok = install(direction, next, 0);
  OPENSSL_cleanse(next.data(), next.size());
  return ok;
}

void RecordLayer::nonce(const Direction& direction, uint8_t out[kNonce]) const {
  // §5.3: the sequence number, big-endian and left-padded to the IV's length, XOR the IV.
  std::memcpy(out, direction.iv, kNonce);
  for (size_t i = 0; i < 8; ++i) out[kNonce - 1 - i] ^= static_cast<uint8_t>(direction.sequence >> (8 * i));
}

bool RecordLayer::seal_record(uint8_t type, const uint8_t* bytes, size_t n, size_t padding, ByteBuffer& out) {
  size_t max_tag = EVP_AEAD_max_overhead(aead_);
  size_t inner = 1 + padding;  // after the content: its type, then the padding zeros
  uint8_t* record = out.prepare(kHeader + n + inner + max_tag).data();
  size_t length = n + inner + max_tag;
  record[0] = kApplicationData;  // §5.2: every protected record says application_data
  record[1] = 0x03;
  record[2] = 0x03;
  record[3] = static_cast<uint8_t>(length >> 8);
  record[4] = static_cast<uint8_t>(length);
  std::vector<uint8_t> trailer(inner, 0);
  trailer[0] = type;
  uint8_t iv[kNonce];
  nonce(write_, iv);
  size_t tag = 0;
  if (!EVP_AEAD_CTX_seal_scatter(write_.aead.get(), record + kHeader, record + kHeader + n, &tag, inner + max_tag,
                                 iv, kNonce, bytes, n, trailer.data(), trailer.size(), record, kHeader)) {
    state_ = State::failed;
    error_ = "cannot seal a record";
    return false;
  }
  out.commit(kHeader + n + tag);
  ++write_.sequence;
  ++records_sealed_;
  return true;
}

bool RecordLayer::seal(const uint8_t* bytes, size_t n, ByteBuffer& out) {
  while (n > 0) {
    if (state_ == State::failed) return false;
    if (write_.sequence >= records_per_key_ && !send_key_update(false, out)) return false;
    size_t chunk = std::min(n, kMaxPlaintext);
    if (!seal_record(kApplicationData, bytes, chunk, 0, out)) return false;
    answered_key_update_ = false;
    bytes += chunk;
    n -= chunk;
  }
  return state_ != State::failed;
}

bool RecordLayer::seal_inner(uint8_t type, std::span<const uint8_t> content, size_t padding, ByteBuffer& out) {
  return state_ != State::failed && seal_record(type, content.data(), content.size(), padding, out);
}

bool RecordLayer::send_key_update(bool request_peer, ByteBuffer& out) {
  const uint8_t message[] = {kKeyUpdate, 0, 0, 1, request_peer ? uint8_t{1} : uint8_t{0}};
  if (!seal_record(kHandshake, message, sizeof(message), 0, out)) return false;
  if (!update(write_)) {
    state_ = State::failed;
    error_ = "cannot derive the next write key";
    return false;
  }
  ++key_updates_sent_;
  return true;
}

RecordLayer::Result RecordLayer::fail(uint8_t alert, std::string why, ByteBuffer& out) {
  error_ = std::move(why);
  const uint8_t fatal[] = {2, alert};
  if (state_ != State::failed) seal_record(kAlert, fatal, sizeof(fatal), 0, out);
  state_ = State::failed;
  return Result::failed;
}

RecordLayer::Result RecordLayer::open(std::span<uint8_t> in, std::span<const uint8_t>& plaintext,
                                      size_t& consumed, ByteBuffer& out) {
  consumed = 0;
  plaintext = {};
  if (state_ != State::open) return state_ == State::closed ? Result::closed : Result::failed;
  if (in.size() < kHeader) return Result::need_more;
  size_t length = (size_t{in[3]} << 8) | in[4];
  if (in[0] != kApplicationData || in[1] != 0x03 || in[2] != 0x03) {
    return fail(SSL_AD_UNEXPECTED_MESSAGE,
                "unprotected record (type " + std::to_string(in[0]) + ") after the handshake", out);
  }
  if (length > kMaxCiphertext) return fail(SSL_AD_RECORD_OVERFLOW, "record too long", out);
  if (in.size() < kHeader + length) return Result::need_more;
  consumed = kHeader + length;

  // §5.3: a sequence number must not wrap.
  if (read_.sequence == UINT64_MAX) return fail(SSL_AD_INTERNAL_ERROR, "read sequence number exhausted", out);
  uint8_t iv[kNonce];
  nonce(read_, iv);
  uint8_t* body = in.data() + kHeader;
  size_t n = 0;
  if (!EVP_AEAD_CTX_open(read_.aead.get(), body, &n, length, iv, kNonce, body, length, in.data(), kHeader)) {
    return fail(SSL_AD_BAD_RECORD_MAC, "record authentication failed", out);
  }
  ++read_.sequence;
  ++records_opened_;
  // §5.4: TLSInnerPlaintext (content, type, padding) is at most 2^14 + 1 bytes.
  if (n > kMaxPlaintext + 1) return fail(SSL_AD_RECORD_OVERFLOW, "record too long", out);
  // The content type is the last non-zero byte; zeros after it are padding.
  while (n > 0 && body[n - 1] == 0) --n;
  if (n == 0) return fail(SSL_AD_UNEXPECTED_MESSAGE, "record without a content type", out);
  uint8_t type = body[--n];
  if (type != kAlert) warning_alerts_in_a_row_ = 0;
  // BoringSSL's limit: an empty record of any type is allowed, 32 in a row are not.
  if (n > 0) {
    empty_records_in_a_row_ = 0;
  } else if (++empty_records_in_a_row_ > kMaxEmptyRecordsInARow) {
    return fail(SSL_AD_UNEXPECTED_MESSAGE, "too many empty records", out);
  }

  switch (type) {
    case kApplicationData:
      if (!handshake_.empty()) {
        return fail(SSL_AD_UNEXPECTED_MESSAGE, "application data inside a handshake message", out);
      }
      if (n > 0) key_updates_in_a_row_ = 0;
      plaintext = {body, n};
      return Result::record;
    case kAlert:
      return alert({body, n}, out);
    case kHandshake:
      handshake_.insert(handshake_.end(), body, body + n);
      return handshake_messages(out);
    default:
      return fail(SSL_AD_UNEXPECTED_MESSAGE, "unexpected content type " + std::to_string(type), out);
  }
}

RecordLayer::Result RecordLayer::alert(std::span<const uint8_t> body, ByteBuffer& out) {
  if (body.size() != 2) return fail(SSL_AD_DECODE_ERROR, "malformed alert", out);
  uint8_t level = body[0], description = body[1];
  if (level != SSL3_AL_WARNING && level != SSL3_AL_FATAL) {
    return fail(SSL_AD_ILLEGAL_PARAMETER, "alert level " + std::to_string(level), out);
  }
  // A fatal close_notify is an error, as BoringSSL reads it.
  if (description == SSL_AD_CLOSE_NOTIFY && level == SSL3_AL_WARNING) {
    error_ = "peer sent close_notify";
    state_ = State::closed;
    return Result::closed;
  }
  // §6.1: user_canceled is a closure alert (close_notify follows) at warning level; at fatal
  // level, like every other alert (§6: error alerts whatever their level), it ends the
  // connection.
  if (description == SSL_AD_USER_CANCELLED && level == SSL3_AL_WARNING) {
    if (++warning_alerts_in_a_row_ > kMaxWarningAlertsInARow) {
      return fail(SSL_AD_UNEXPECTED_MESSAGE, "too many warning alerts", out);
    }
    return Result::record;
  }
  error_ = std::string("peer sent alert: ") + SSL_alert_desc_string_long(description);
  state_ = State::failed;
  return Result::failed;
}

RecordLayer::Result RecordLayer::handshake_messages(ByteBuffer& out) {
  // Messages are parsed by offset and the buffer trimmed once: a record packed with
  // thousands of small tickets costs linear time.
  size_t at = 0;
  while (handshake_.size() - at >= 4) {
    const uint8_t* message = handshake_.data() + at;
    size_t length = (size_t{message[1]} << 16) | (size_t{message[2]} << 8) | message[3];
    if (length > (server_ ? kMaxServerHandshakeMessage : kMaxClientHandshakeMessage)) {
      return fail(SSL_AD_DECODE_ERROR, "post-handshake message too long", out);
    }
    if (handshake_.size() - at < 4 + length) break;
    if (message[0] == kKeyUpdate) {
      if (length != 1 || message[4] > 1) return fail(SSL_AD_DECODE_ERROR, "malformed KeyUpdate", out);
      // §5.1: a key change must end its record, else later bytes were sent under the old key.
      if (handshake_.size() - at != 5) {
        return fail(SSL_AD_UNEXPECTED_MESSAGE, "KeyUpdate not at the end of its record", out);
      }
      if (++key_updates_in_a_row_ > kMaxKeyUpdatesInARow) {
        return fail(SSL_AD_UNEXPECTED_MESSAGE, "too many KeyUpdates without data", out);
      }
      bool requested = message[4] == 1;
      at = handshake_.size();
      if (!update(read_)) return fail(SSL_AD_INTERNAL_ERROR, "cannot derive the next read key", out);
      ++key_updates_received_;
      // §4.6.3: answer before our next application data record; one answer covers every
      // request until then (as BoringSSL does), so requests do not multiply KeyUpdates.
      if (requested && !answered_key_update_) {
        if (!send_key_update(false, out)) return Result::failed;
        answered_key_update_ = true;
      }
      break;
    }
    if (message[0] != kNewSessionTicket || server_) {
      return fail(SSL_AD_UNEXPECTED_MESSAGE,
                  "unexpected post-handshake message " + std::to_string(message[0]), out);
    }
    key_updates_in_a_row_ = 0;
    // A ticket: hbone does not resume sessions (every connection shows its certificate),
    // but it must be one.
    if (!valid_ticket(message + 4, length)) return fail(SSL_AD_DECODE_ERROR, "malformed NewSessionTicket", out);
    at += 4 + length;
  }
  handshake_.erase(handshake_.begin(), handshake_.begin() + static_cast<long>(at));
  return Result::record;
}

}  // namespace hbone::tls

#endif  // OPENSSL_IS_BORINGSSL
