#include "grpc/call.h"

#include <nghttp2/nghttp2.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "grpc/channel_connection.h"

namespace hbone::grpc {
namespace {

// Sent bytes at the front of the request buffer are dropped once they are this many and
// half of it (a long-lived stream's buffer does not only grow).
constexpr size_t kCompactAbove = 64 * 1024;

}  // namespace

Status status_from_reset(uint32_t error_code) {
  std::string why = std::string("stream reset by the server: ") + nghttp2_http2_strerror(error_code);
  switch (error_code) {
    case NGHTTP2_REFUSED_STREAM: return {Code::unavailable, why};
    case NGHTTP2_CANCEL: return {Code::cancelled, why};
    case NGHTTP2_ENHANCE_YOUR_CALM: return {Code::resource_exhausted, why};
    case NGHTTP2_INADEQUATE_SECURITY: return {Code::permission_denied, why};
    default: return {Code::internal, why};
  }
}

Status status_from_http(int http_status) {
  std::string why = "HTTP status " + std::to_string(http_status) + " instead of a gRPC response";
  switch (http_status) {
    case 400: return {Code::internal, why};
    case 401: return {Code::unauthenticated, why};
    case 403: return {Code::permission_denied, why};
    case 404: return {Code::unimplemented, why};
    case 429:
    case 502:
    case 503:
    case 504: return {Code::unavailable, why};
    default: return {Code::unknown, why};
  }
}

Call::Call(ChannelConnection& connection, CallOptions options, CallHandlers handlers)
    : connection_(connection),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      deadline_(connection.loop().uv(), [this] {
        finish({Code::deadline_exceeded, "deadline of " + std::to_string(options_.timeout->count()) +
                                             "ms exceeded"});
        end_stream();
      }),
      reader_(options_.max_message) {
  if (options_.timeout) deadline_.start(*options_.timeout);
}

Call::~Call() = default;

std::optional<std::chrono::nanoseconds> Call::time_left() const {
  if (!options_.timeout) return std::nullopt;
  return *options_.timeout - (std::chrono::steady_clock::now() - started_);
}

bool Call::send(std::string_view message) {
  if (over_ || sending_finished_) return false;
  if (sent_ > kCompactAbove && sent_ * 2 > outgoing_.size()) {
    outgoing_.erase(0, sent_);
    sent_ = 0;
  }
  frame_message(message, outgoing_);
  if (stream_id_ > 0) connection_.resume(stream_id_);
  return true;
}

void Call::finish_sending() {
  if (over_ || sending_finished_) return;
  sending_finished_ = true;
  if (stream_id_ > 0) connection_.resume(stream_id_);
}

void Call::cancel() {
  if (over_) return;
  over_ = true;  // handlers_ stay: this may run inside one of them
  deadline_.stop();
  end_stream();
}

void Call::submitted(int32_t stream_id) { stream_id_ = stream_id; }

void Call::on_header(bool trailers, std::string_view name, std::string_view value) {
  if (name == "grpc-status") {
    grpc_status_ = std::string(value);
  } else if (name == "grpc-message") {
    grpc_message_ = std::string(value);
  } else if (!trailers && name == ":status") {
    std::from_chars(value.data(), value.data() + value.size(), http_status_);
  } else if (!trailers && name == "content-type") {
    content_type_ = std::string(value);
  }
}

void Call::on_headers(bool trailers) {
  if (trailers || response_started_ || over_) return;
  response_started_ = true;
  Status broken;
  if (http_status_ != 200) {
    broken = status_from_http(http_status_);
  } else if (!content_type_.starts_with("application/grpc")) {
    broken = {Code::unknown, "response content-type \"" + content_type_ + "\" is not application/grpc"};
  } else {
    return;
  }
  finish(std::move(broken));
  end_stream();
}

void Call::fail(Status status) { finish(std::move(status)); }

long Call::next_data(size_t max, bool* eof) {
  size_t left = outgoing_.size() - sent_;
  if (left == 0 && !sending_finished_) return -1;  // deferred until send() or finish_sending()
  size_t n = std::min(max, left);
  if (sending_finished_ && n == left) {
    *eof = true;
    eof_sent_ = true;
  }
  return static_cast<long>(n);
}

const uint8_t* Call::outgoing_data() const { return reinterpret_cast<const uint8_t*>(outgoing_.data()) + sent_; }

void Call::outgoing_sent(size_t n) {
  sent_ += n;
  if (sent_ == outgoing_.size()) {
    outgoing_.clear();
    sent_ = 0;
  }
}

void Call::on_peer_data(const uint8_t* data, size_t n) {
  // The window goes back at once: each message is handed over as it completes, and the
  // reader refuses one above the limit before buffering it.
  connection_.consume(stream_id_, n);
  if (over_) return;
  auto result = reader_.feed({data, n}, [this](std::string&& message) {
    if (!over_ && handlers_.on_message) handlers_.on_message(std::move(message));
  });
  if (result == MessageReader::Result::ok || over_) return;
  finish(result == MessageReader::Result::compressed
             ? Status{Code::internal, "compressed response message, though no compression was offered"}
             : Status{Code::resource_exhausted,
                      "response message larger than " + std::to_string(options_.max_message) + " bytes"});
  end_stream();
}

void Call::on_peer_end_stream() {
  if (!over_) {
    finish(reader_.partial() ? Status{Code::internal, "response ended inside a message"}
                             : status_from_trailers(grpc_status_, grpc_message_));
  }
  // A server may end the call before the client's last request (a failed stream): the
  // client's half goes too.
  if (!eof_sent_) end_stream();
}

void Call::on_stream_closed(uint32_t error_code) {
  stream_closed_ = true;
  if (!over_) {
    finish(error_code != NGHTTP2_NO_ERROR ? status_from_reset(error_code)
                                          : Status{Code::internal, "stream closed without a status"});
  }
  connection_.retire_stream(stream_id_);
}

void Call::abort() {
  finish({Code::unavailable, "connection to " + connection_.peer_address() + " lost: " + connection_.close_reason()});
}

void Call::finish(Status status) {
  if (over_) return;
  over_ = true;
  deadline_.stop();
  // Moved out: the handler may end what holds the Call (a channel), never this function.
  auto on_close = std::move(handlers_.on_close);
  if (on_close) on_close(status);
}

void Call::end_stream() {
  if (stream_id_ == 0) {
    connection_.drop_waiting(*this);
  } else if (!stream_closed_) {
    connection_.reset(stream_id_, NGHTTP2_CANCEL);
  }
}

void Call::describe(nlohmann::json& out) const {
  out["path"] = options_.path;
  out["stream_id"] = stream_id_;
  out["age_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  out["state"] = over_ ? "over" : response_started_ ? "open" : "waiting";
  out["request_bytes_queued"] = outgoing_.size() - sent_;
}

}  // namespace hbone::grpc
