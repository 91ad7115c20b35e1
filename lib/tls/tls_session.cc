#include "tls/tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tls/certificate_identity.h"
#include "tls/ssl_handles.h"
#include "tls/tls_context.h"

namespace hbone::tls {
namespace {

// A BIO over the session's two ByteBuffers. Writes never block: the connection bounds
// outbound() by not producing more frames while it is above its high-water mark.
struct BufferPair {
  ByteBuffer* in;
  ByteBuffer* out;
};

int bio_write(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  auto* pair = static_cast<BufferPair*>(BIO_get_data(bio));
  pair->out->append(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len));
  return len;
}

int bio_read(BIO* bio, char* data, int len) {
  BIO_clear_retry_flags(bio);
  auto* pair = static_cast<BufferPair*>(BIO_get_data(bio));
  size_t n = std::min(pair->in->size(), static_cast<size_t>(len));
  if (n == 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  std::memcpy(data, pair->in->data(), n);
  pair->in->consume(n);
  return static_cast<int>(n);
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_destroy(BIO* bio) {
  std::unique_ptr<BufferPair>(static_cast<BufferPair*>(BIO_get_data(bio)));
  BIO_set_data(bio, nullptr);
  return 1;
}

BIO_METHOD* buffer_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "hbone-buffers");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_destroy(m, bio_destroy);
    return m;
  }();
  return method;
}

X509Ptr peer_certificate(SSL* ssl) {
#if defined(OPENSSL_IS_BORINGSSL)
  return X509Ptr(SSL_get_peer_certificate(ssl));
#else
  return X509Ptr(SSL_get1_peer_certificate(ssl));
#endif
}

// The server got no client certificate, or (client side) the server's alert says so.
bool missing_certificate(uint32_t error) {
#if defined(OPENSSL_IS_BORINGSSL)
  constexpr int kCertificateRequiredAlert = SSL_R_TLSV1_ALERT_CERTIFICATE_REQUIRED;
#else
  constexpr int kCertificateRequiredAlert = SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED;
#endif
  if (ERR_GET_LIB(error) != ERR_LIB_SSL) return false;
  int reason = ERR_GET_REASON(error);
  return reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE || reason == kCertificateRequiredAlert;
}

}  // namespace

TlsSession::TlsSession(const TlsContext& ctx)
    : ssl_(SSL_new(ctx.get())), own_record_layer_(ctx.own_record_layer()), records_per_key_(ctx.records_per_key()) {
  if (!ssl_) throw std::runtime_error("SSL_new: " + last_ssl_error());
  BIO* bio = BIO_new(buffer_bio_method());
  BIO_set_data(bio, std::make_unique<BufferPair>(BufferPair{&in_, &out_}).release());
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO, both directions; SSL owns it
  if (ctx.role() == TlsContext::Role::server) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
    const std::string& name = ctx.server_name();
    if (!name.empty() && !name.starts_with("spiffe://")) SSL_set_tlsext_host_name(ssl_.get(), name.c_str());
  }
}

TlsSession::Status TlsSession::fail_or_retry(int rc) {
  int err = SSL_get_error(ssl_.get(), rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return Status::want_io;
    case SSL_ERROR_ZERO_RETURN:
      error_ = "peer sent close_notify";
      return Status::closed;
    default: {
      // BoringSSL reports X509_V_ERR_INVALID_CALL while no certificate was verified yet
      // (garbage instead of a ClientHello): that is not a certificate problem.
      long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK && verify != X509_V_ERR_INVALID_CALL) {
        failure_ = Failure::bad_certificate;
        error_ = std::string("certificate verification failed: ") +
                 X509_verify_cert_error_string(verify);
        ERR_clear_error();
      } else {
        failure_ = missing_certificate(ERR_peek_last_error()) ? Failure::no_certificate
                                                             : Failure::error;
        error_ = last_ssl_error();
      }
      return Status::failed;
    }
  }
}

TlsSession::Status TlsSession::handshake() {
  int rc = SSL_do_handshake(ssl_.get());
  if (rc != 1) return fail_or_retry(rc);
#if defined(OPENSSL_IS_BORINGSSL)
  if (!own_record_layer_) return Status::ok;  // tls.record_layer: library
  std::string why;
  records_ = RecordLayer::take_over(ssl_.get(), why, records_per_key_);
  if (!records_) {
    spdlog::warn("tls: records stay with SSL_read/SSL_write: {}", why);
    return Status::ok;
  }
  Handshaken kept{alpn(), peer_identity(), error_, SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_.get()))};
  handshaken_ = std::move(kept);
  error_.clear();
  ssl_.reset();
#endif
  return Status::ok;
}

TlsSession::Status TlsSession::read(std::span<const uint8_t>& plaintext) {
#if defined(OPENSSL_IS_BORINGSSL)
  while (records_) {
    size_t consumed = 0;
    auto result = records_->open({in_.data(), in_.size()}, plaintext, consumed, out_);
    // The plaintext stays where it is: consume() only moves the buffer's indices.
    in_.consume(consumed);
    switch (result) {
      case RecordLayer::Result::record:
        if (plaintext.empty()) continue;  // a ticket, a KeyUpdate
        return Status::ok;
      case RecordLayer::Result::need_more:
        return Status::want_io;
      case RecordLayer::Result::closed:
        error_ = records_->error();
        return Status::closed;
      case RecordLayer::Result::failed:
        error_ = records_->error();
        failure_ = Failure::error;
        return Status::failed;
    }
  }
#endif
  constexpr int kRecord = 16384;  // SSL_read returns one record at most
  uint8_t* scratch = plain_.prepare(kRecord).data();
  int rc = SSL_read(ssl_.get(), scratch, kRecord);
  if (rc <= 0) return fail_or_retry(rc);
  plaintext = {scratch, static_cast<size_t>(rc)};
  return Status::ok;
}

bool TlsSession::keeps_plaintext() const {
#if defined(OPENSSL_IS_BORINGSSL)
  return records_.has_value();
#else
  return false;
#endif
}

void TlsSession::describe(nlohmann::json& out) const {
  if (handshaken_) {
    out["tls_cipher"] = handshaken_->cipher;
  } else if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_.get())) {
    out["tls_cipher"] = SSL_CIPHER_get_name(cipher);
  }
#if defined(OPENSSL_IS_BORINGSSL)
  if (records_) {
    out["tls_record_layer"] = "in-place";
    out["tls_records"] = {{"sent", records_->records_sealed()},
                          {"received", records_->records_opened()},
                          {"key_updates_sent", records_->key_updates_sent()},
                          {"key_updates_received", records_->key_updates_received()}};
    return;
  }
#endif
  out["tls_record_layer"] = "ssl";
}

void TlsSession::shrink() {
  for (ByteBuffer* buffer : {&in_, &out_, &plain_}) buffer->shrink();
}

bool TlsSession::write(const uint8_t* bytes, size_t n) {
#if defined(OPENSSL_IS_BORINGSSL)
  if (records_) {
    if (records_->seal(bytes, n, out_)) return true;
    error_ = records_->error();
    failure_ = Failure::error;
    return false;
  }
#endif
  while (n > 0) {
    // The same rekey limit as the record layer's (RFC 8446 §5.5): neither OpenSSL nor
    // BoringSSL's SSL_write updates its key by itself.
    if (records_written_ >= records_per_key_) {
      if (SSL_key_update(ssl_.get(), SSL_KEY_UPDATE_NOT_REQUESTED) != 1) {
        error_ = "cannot update the write key: " + last_ssl_error();
        failure_ = Failure::error;
        return false;
      }
      records_written_ = 0;
    }
    constexpr size_t kRecord = 16384;  // SSL_write seals at most this much per record
    int chunk = static_cast<int>(std::min<size_t>({n, size_t{1} << 30, kRecord * (records_per_key_ - records_written_)}));
    int rc = SSL_write(ssl_.get(), bytes, chunk);
    if (rc <= 0) {
      fail_or_retry(rc);
      return false;
    }
    records_written_ += (static_cast<uint64_t>(rc) + kRecord - 1) / kRecord;
    bytes += rc;
    n -= static_cast<size_t>(rc);
  }
  return true;
}

std::string TlsSession::alpn() const {
  if (handshaken_) return handshaken_->alpn;
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::optional<identity::SpiffeId> TlsSession::peer_identity() {
  if (handshaken_) {
    error_ = handshaken_->peer_error;
    return handshaken_->peer;
  }
  auto cert = peer_certificate(ssl_.get());
  if (!cert) {
    error_ = "peer sent no certificate";
    return std::nullopt;
  }
  return spiffe_id_of(cert.get(), error_);
}

}  // namespace hbone::tls
