#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grpc/framing.h"
#include "h2/stream_handler.h"
#include "net/timer.h"

namespace hbone::grpc {

class ChannelConnection;

// What a call is: its method, its metadata and how long it may take.
struct CallOptions {
  std::string path{};  // "/package.Service/Method"
  // Request metadata (lower-case names): "authorization: Bearer ...", "workload.spiffe.io: true".
  std::vector<std::pair<std::string, std::string>> metadata{};
  // None for a stream that lives as long as the connection (xDS, the Workload API).
  std::optional<std::chrono::milliseconds> timeout{};
  // A longer response message ends the call (RESOURCE_EXHAUSTED) before it is buffered.
  size_t max_message = 4 * 1024 * 1024;
};

// What a call tells its user, on the channel's loop.
struct CallHandlers {
  std::function<void(std::string&& message)> on_message{};  // each response message, in order
  // Exactly once, unless the user cancelled: the server's status, or the client's own
  // (DEADLINE_EXCEEDED, UNAVAILABLE when the connection failed, INTERNAL for a broken
  // response). The Call must not be used afterwards.
  std::function<void(const Status&)> on_close{};
};

// One gRPC call on an HTTP/2 stream of a ChannelConnection, which owns it: requests are
// framed into one buffer that DATA frames take from without a copy; responses are split
// into messages as DATA arrives and handed to the user at once, in order, so the status
// that ends the call always follows its last message. Handlers run inside the
// connection's input processing: they may send, start or cancel calls, and destroy the
// Channel (it retires its connections), never anything else of the connection.
class Call final : public h2::StreamHandler {
 public:
  Call(ChannelConnection& connection, CallOptions options, CallHandlers handlers);
  ~Call() override;

  // Queues one request message; false once the call is over or sending was finished.
  bool send(std::string_view message);
  // The last request was queued: END_STREAM follows it (a unary call after its one message).
  void finish_sending();
  // Ends the call now (RST_STREAM CANCEL); no handler is called, and the Call must not be
  // used afterwards.
  void cancel();

  const CallOptions& options() const { return options_; }
  int32_t stream_id() const { return stream_id_; }
  bool over() const { return over_; }

  // Its connection's side.
  void submitted(int32_t stream_id);
  // What grpc-timeout says when the call is sent; nullopt without a deadline.
  std::optional<std::chrono::nanoseconds> time_left() const;
  void on_header(bool trailers, std::string_view name, std::string_view value);
  // A header block is complete: the response's (checked here) or the trailers.
  void on_headers(bool trailers);
  // The connection failed before or while the call ran.
  void fail(Status status);

  // h2::StreamHandler
  long next_data(size_t max, bool* eof) override;
  const uint8_t* outgoing_data() const override;
  std::chrono::steady_clock::time_point queued_since() const override { return {}; }
  void outgoing_sent(size_t n) override;
  void on_peer_data(const uint8_t* data, size_t n) override;
  void write_received() override {}  // messages were handed over as they completed
  bool keeping_up() const override { return true; }
  void on_peer_end_stream() override;
  void on_stream_closed(uint32_t error_code) override;
  void abort() override;
  void on_window_update() override {}
  void sample_rate(double) override {}
  void describe(nlohmann::json& out) const override;

 private:
  // The call is over with `status`: the handler hears it once, the stream goes.
  void finish(Status status);
  // The call is over for us: RST_STREAM CANCEL if its stream still runs, out of the
  // connection's queue if it was never sent.
  void end_stream();

  ChannelConnection& connection_;
  CallOptions options_;
  CallHandlers handlers_;
  net::Timer deadline_;
  int32_t stream_id_ = 0;  // 0 until submitted
  // Requests, framed; DATA takes bytes from `sent_` on.
  std::string outgoing_;
  size_t sent_ = 0;
  bool sending_finished_ = false;
  bool eof_sent_ = false;  // END_STREAM went into a DATA frame
  MessageReader reader_;
  int http_status_ = 0;
  std::string content_type_;
  std::optional<std::string> grpc_status_;
  std::string grpc_message_;
  bool response_started_ = false;
  bool over_ = false;          // finish() or cancel() happened
  bool stream_closed_ = false; // nghttp2 let go of the stream
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// A call's outcome from an RST_STREAM the server sent, as grpc/doc/PROTOCOL-HTTP2.md maps it.
Status status_from_reset(uint32_t error_code);
// A response whose HTTP status is not 200, as the same document maps it.
Status status_from_http(int http_status);

}  // namespace hbone::grpc
