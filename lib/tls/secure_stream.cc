#include "tls/secure_stream.h"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>


namespace hbone::tls {
namespace {

// Socket reads of this size amortize the syscall; TLS records are 16 KiB.
constexpr size_t kReadChunk = 256 * 1024;
// Read at most this much per readiness event, so one busy connection cannot starve others.
constexpr size_t kReadBudget = 4 * 1024 * 1024;

}  // namespace

SecureStream::SecureStream(const TlsContext* tls, Options options, Handler& handler)
    : high_water_(options.high_water), handler_(handler) {
  if (tls) tls_.emplace(*tls);
}

SecureStream::~SecureStream() = default;

void SecureStream::start(std::unique_ptr<net::ByteStream> stream, bool client) {
  stream_ = std::move(stream);
  stream_->attach(*this);
  stream_->watch(UV_READABLE);
  if (!tls_) {
    secure_ = true;
    handler_.on_secure(nullptr);  // h2c: HTTP/2 from the first byte
  } else if (client) {
    process_input();  // produces the ClientHello
  }
}

void SecureStream::close() {
  closed_ = true;
  if (stream_) stream_->detach();
}

void SecureStream::on_io(int status, int events) {
  if (closed_) return;
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF: the stream knows the real cause.
    int err = stream_->error();
    fail(std::string("socket error: ") + (err ? std::strerror(err) : uv_strerror(status)));
    return;
  }
  if (events & UV_WRITABLE) {
    write();
    if (!closed_ && !above_high_water()) handler_.on_below_high_water();
  }
  if (!closed_ && (events & (UV_READABLE | UV_DISCONNECT))) read_stream();
}

void SecureStream::read_stream() {
  size_t total = 0;
  bool eof = false;
  while (total < kReadBudget) {
    auto space = in().prepare(kReadChunk);
    ssize_t n = stream_->read(space.data(), space.size());
    if (n > 0) {
      in().commit(static_cast<size_t>(n));
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < space.size()) break;  // empty now
      continue;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    if (errno == EAGAIN || errno == EINTR) break;
    fail(std::string("read: ") + std::strerror(errno));
    return;
  }
  process_input();
  if (!closed_ && eof) fail("peer closed the connection");
}

void SecureStream::process_input() {
  if (!tls_) {  // h2c: the socket's bytes are the HTTP/2 bytes
    handler_.on_plaintext({plain_in_.data(), plain_in_.size()});
    plain_in_.consume(plain_in_.size());
    handler_.on_plaintext_released();
    if (!closed_) handler_.on_input_done();
    return;
  }
  if (!secure_) {
    auto status = tls_->handshake();
    if (status == TlsSession::Status::want_io) {
      write();  // our next handshake flight, if any
      return;
    }
    if (status != TlsSession::Status::ok) {
      write();  // the alert, if any
      fail("TLS handshake failed: " + tls_->error(), /*handshake=*/true);
      return;
    }
    secure_ = true;
    handler_.on_secure(&*tls_);
    if (closed_) return;
  }
  process_records();
}

void SecureStream::process_records() {
  auto status = TlsSession::Status::ok;
  while (!closed_) {
    // One record at a time, handed up where it was decrypted.
    std::span<const uint8_t> plaintext;
    status = tls_->read(plaintext);
    if (status != TlsSession::Status::ok || !handler_.on_plaintext(plaintext)) break;
    if (!tls_->keeps_plaintext()) handler_.on_plaintext_released();
  }
  // In place, every record's plaintext is still in the input buffer: released once.
  handler_.on_plaintext_released();
  if (closed_) return;
  handler_.on_input_done();
  if (closed_) return;
  if (status == TlsSession::Status::closed) {
    fail("peer closed TLS (close_notify)");
  } else if (status == TlsSession::Status::failed) {
    write();  // our alert, if any
    fail("TLS error: " + tls_->error());
  }
}

bool SecureStream::seal(const uint8_t* bytes, size_t n) {
  if (!tls_) {
    plain_out_.append(bytes, n);
    return true;
  }
  return tls_->write(bytes, n);
}

void SecureStream::write() {
  if (closed_) return;
  ByteBuffer& buffer = out();
  uint64_t before = written_;
  while (!buffer.empty()) {
    ssize_t n = stream_->write(buffer.data(), buffer.size());
    if (n > 0) {
      buffer.consume(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    fail(std::string("write: ") + std::strerror(errno));
    return;
  }
  if (written_ != before) handler_.on_sent(written_);
  if (buffer.empty() && buffer.capacity() > 2 * high_water_) buffer.shrink();
  if (!closed_) stream_->want(UV_WRITABLE, !buffer.empty());  // on_sent() may have closed it
}

void SecureStream::fail(const std::string& reason, bool handshake) {
  if (closed_) return;
  handler_.on_stream_closed(reason, handshake);
  close();
}

void SecureStream::describe(nlohmann::json& out) const {
  out["tls_outbound_bytes"] = queued();
  if (tls_) tls_->describe(out);
  out["waiting_writable"] = stream_ && (stream_->events() & UV_WRITABLE) != 0;
}

void SecureStream::shrink() {
  plain_in_.shrink();
  plain_out_.shrink();
  if (tls_) tls_->shrink();
}

}  // namespace hbone::tls
