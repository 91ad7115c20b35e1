#include "tls/record_layer.h"

#if defined(OPENSSL_IS_BORINGSSL)

#include <openssl/digest.h>
#include <openssl/hkdf.h>

#include <algorithm>
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
// BoringSSL's own limit: a peer may not make us rekey forever without sending data.
constexpr unsigned kMaxKeyUpdatesInARow = 32;
// A post-handshake message larger than this is not a ticket or a KeyUpdate.
constexpr size_t kMaxHandshakeMessage = 64 * 1024;

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

}  // namespace

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
  const EVP_AEAD* aead = nullptr;
  const EVP_MD* hash = nullptr;
  switch (SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(ssl))) {
    case 0x1301: aead = EVP_aead_aes_128_gcm(); hash = EVP_sha256(); break;
    case 0x1302: aead = EVP_aead_aes_256_gcm(); hash = EVP_sha384(); break;
    case 0x1303: aead = EVP_aead_chacha20_poly1305(); hash = EVP_sha256(); break;
    default:
      why = std::string("unknown TLS 1.3 cipher ") + SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
      return std::nullopt;
  }
  bssl::Span<const uint8_t> read_secret, write_secret;
  if (!bssl::SSL_get_traffic_secrets(ssl, &read_secret, &write_secret)) {
    why = "BoringSSL gave no traffic secrets";
    return std::nullopt;
  }
  RecordLayer layer(aead, hash, records_per_key, SSL_is_server(ssl) == 1);
  if (!layer.install(layer.read_, read_secret, SSL_get_read_sequence(ssl)) ||
      !layer.install(layer.write_, write_secret, SSL_get_write_sequence(ssl))) {
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

void RecordLayer::seal_record(uint8_t type, const uint8_t* bytes, size_t n, ByteBuffer& out) {
  size_t max_tag = 1 + EVP_AEAD_max_overhead(aead_);  // the inner content type, then the tag
  uint8_t* record = out.prepare(kHeader + n + max_tag).data();
  size_t length = n + max_tag;
  record[0] = kApplicationData;  // §5.2: every protected record says application_data
  record[1] = 0x03;
  record[2] = 0x03;
  record[3] = static_cast<uint8_t>(length >> 8);
  record[4] = static_cast<uint8_t>(length);
  uint8_t iv[kNonce];
  nonce(write_, iv);
  size_t tag = 0;
  EVP_AEAD_CTX_seal_scatter(write_.aead.get(), record + kHeader, record + kHeader + n, &tag, max_tag,
                            iv, kNonce, bytes, n, &type, 1, record, kHeader);
  out.commit(kHeader + n + tag);
  ++write_.sequence;
  ++records_sealed_;
}

void RecordLayer::seal(const uint8_t* bytes, size_t n, ByteBuffer& out) {
  while (n > 0) {
    if (write_.sequence >= records_per_key_) send_key_update(false, out);
    size_t chunk = std::min(n, kMaxPlaintext);
    seal_record(kApplicationData, bytes, chunk, out);
    bytes += chunk;
    n -= chunk;
  }
}

void RecordLayer::send_key_update(bool request_peer, ByteBuffer& out) {
  const uint8_t message[] = {kKeyUpdate, 0, 0, 1, request_peer ? uint8_t{1} : uint8_t{0}};
  seal_record(kHandshake, message, sizeof(message), out);
  update(write_);
  ++key_updates_sent_;
}

RecordLayer::Result RecordLayer::fail(uint8_t alert, std::string why, ByteBuffer& out) {
  error_ = std::move(why);
  const uint8_t fatal[] = {2, alert};
  seal_record(kAlert, fatal, sizeof(fatal), out);
  return Result::failed;
}

RecordLayer::Result RecordLayer::open(std::span<uint8_t> in, std::span<const uint8_t>& plaintext,
                                      size_t& consumed, ByteBuffer& out) {
  consumed = 0;
  plaintext = {};
  if (in.size() < kHeader) return Result::need_more;
  size_t length = (size_t{in[3]} << 8) | in[4];
  if (in[0] != kApplicationData || in[1] != 0x03 || in[2] != 0x03) {
    return fail(SSL_AD_UNEXPECTED_MESSAGE,
                "unprotected record (type " + std::to_string(in[0]) + ") after the handshake", out);
  }
  if (length > kMaxCiphertext) return fail(SSL_AD_RECORD_OVERFLOW, "record too long", out);
  if (in.size() < kHeader + length) return Result::need_more;
  consumed = kHeader + length;

  uint8_t iv[kNonce];
  nonce(read_, iv);
  uint8_t* body = in.data() + kHeader;
  size_t n = 0;
  if (!EVP_AEAD_CTX_open(read_.aead.get(), body, &n, length, iv, kNonce, body, length, in.data(), kHeader)) {
    return fail(SSL_AD_BAD_RECORD_MAC, "record authentication failed", out);
  }
  ++read_.sequence;
  ++records_opened_;
  // §5.4: the content type is the last non-zero byte; zeros after it are padding.
  while (n > 0 && body[n - 1] == 0) --n;
  if (n == 0) return fail(SSL_AD_UNEXPECTED_MESSAGE, "record without a content type", out);
  uint8_t type = body[--n];
  if (n > kMaxPlaintext) return fail(SSL_AD_RECORD_OVERFLOW, "record too long", out);

  switch (type) {
    case kApplicationData:
      if (!handshake_.empty()) {
        return fail(SSL_AD_UNEXPECTED_MESSAGE, "application data inside a handshake message", out);
      }
      key_updates_in_a_row_ = 0;
      plaintext = {body, n};
      return Result::record;
    case kAlert:
      if (n != 2) return fail(SSL_AD_DECODE_ERROR, "malformed alert", out);
      if (body[1] == SSL_AD_CLOSE_NOTIFY) {
        error_ = "peer sent close_notify";
        return Result::closed;
      }
      if (body[1] == SSL_AD_USER_CANCELLED) return Result::record;  // close_notify follows
      error_ = std::string("peer sent alert: ") + SSL_alert_desc_string_long(body[1]);
      return Result::failed;
    case kHandshake:
      if (n == 0) return fail(SSL_AD_UNEXPECTED_MESSAGE, "empty handshake record", out);
      handshake_.insert(handshake_.end(), body, body + n);
      return handshake_messages(out);
    default:
      return fail(SSL_AD_UNEXPECTED_MESSAGE, "unexpected content type " + std::to_string(type), out);
  }
}

RecordLayer::Result RecordLayer::handshake_messages(ByteBuffer& out) {
  while (handshake_.size() >= 4) {
    const uint8_t* message = handshake_.data();
    size_t length = (size_t{message[1]} << 16) | (size_t{message[2]} << 8) | message[3];
    if (length > kMaxHandshakeMessage) {
      return fail(SSL_AD_DECODE_ERROR, "post-handshake message too long", out);
    }
    if (handshake_.size() < 4 + length) break;
    if (message[0] == kKeyUpdate) {
      if (length != 1 || message[4] > 1) return fail(SSL_AD_DECODE_ERROR, "malformed KeyUpdate", out);
      // §5.1: a key change must end its record, else later bytes were sent under the old key.
      if (handshake_.size() != 5) {
        return fail(SSL_AD_UNEXPECTED_MESSAGE, "KeyUpdate not at the end of its record", out);
      }
      if (++key_updates_in_a_row_ > kMaxKeyUpdatesInARow) {
        return fail(SSL_AD_UNEXPECTED_MESSAGE, "too many KeyUpdates without data", out);
      }
      bool requested = message[4] == 1;
      handshake_.clear();
      if (!update(read_)) return fail(SSL_AD_INTERNAL_ERROR, "cannot derive the next read key", out);
      ++key_updates_received_;
      // §4.6.3: answer before any more application data.
      if (requested) send_key_update(false, out);
      continue;
    }
    if (message[0] != kNewSessionTicket || server_) {
      return fail(SSL_AD_UNEXPECTED_MESSAGE,
                  "unexpected post-handshake message " + std::to_string(message[0]), out);
    }
    // A ticket: hbone does not resume sessions (every connection shows its certificate).
    handshake_.erase(handshake_.begin(), handshake_.begin() + static_cast<long>(4 + length));
  }
  return Result::record;
}

}  // namespace hbone::tls

#endif  // OPENSSL_IS_BORINGSSL
