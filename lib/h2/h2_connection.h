#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "h2/frame_output.h"
#include "h2/handshake_stats.h"
#include "h2/header.h"
#include "h2/keepalive.h"
#include "h2/peer_check.h"
#include "h2/session.h"
#include "h2/stream_handler.h"
#include "h2/window_policy.h"
#include "net/event_loop.h"
#include "net/byte_stream.h"
#include "net/timer.h"
#include "worker/context.h"
#include "tls/secure_stream.h"
#include "tls/tls_session.h"
#include "util/byte_buffer.h"

namespace hbone::h2 {

// One mTLS HTTP/2 connection, either side: the nghttp2 session, its streams and their flow
// control, keepalive and window sizing, over a SecureStream (TLS over any ByteStream) that it feeds
// frames to and takes plaintext from, never touching a socket. Frames nghttp2
// produces are sealed into the stream's outbound queue, written once per loop iteration
// (see EventLoop::schedule_flush). The role (client or gateway) lives in a subclass; its
// streams are StreamHandlers.
class H2Connection : public tls::SecureStream::Handler,
                     public net::Flushable,
                     public net::Retirable {
 public:
  enum class Side { client, server };

  // `tls` stays alive with the connection (a reload may replace it for new ones); null
  // means h2c (tls.plaintext_h2c). `pings`: http2.keepalive_* when not given.
  H2Connection(worker::Context& worker, std::shared_ptr<const tls::TlsContext> tls, Side side,
               std::optional<Keepalive::Policy> pings = std::nullopt);
  ~H2Connection() override;

  // Takes the connected stream (a socket whose options its maker set, or an in-process
  // pipe) and starts the TLS handshake.
  void start(std::unique_ptr<net::ByteStream> stream, std::string peer_address);

  // Tears down at once: every stream's local socket is reset. Safe from any callback.
  void close(const std::string& reason);
  // Graceful: GOAWAY, no new streams, close when the last stream ends.
  void drain();

  bool closed() const { return closed_; }
  // Why close() was called (empty while open): streams aborted by it can say why.
  const std::string& close_reason() const { return close_reason_; }
  bool draining() const { return draining_; }
  bool ready() const { return ready_; }
  bool peer_settings_received() const { return peer_settings_received_; }
  size_t stream_count() const { return streams_.size(); }
  // Calls f(stream_id, handler) for each open stream; f may reset streams.
  template <typename F>
  void for_each_stream(F&& f) {
    std::vector<int32_t> ids;
    ids.reserve(streams_.size());
    for (const auto& entry : streams_) ids.push_back(entry.first);
    for (int32_t id : ids) {
      if (auto it = streams_.find(id); it != streams_.end()) f(id, *it->second);
    }
  }
  const std::string& peer_address() const { return peer_address_; }
  const std::string& peer_identity() const { return peer_identity_; }
  net::EventLoop& loop() { return worker_.loop; }
  const config::Config& config() const { return worker_.config; }
  metrics::WorkerMetrics& metrics() { return worker_.metrics; }
  worker::Context& worker() { return worker_; }
  int role() const { return side_ == Side::client ? metrics::kClient : metrics::kGateway; }
  const std::string& own_identity() const { return own_identity_; }

  void schedule_flush();
  void flush() override;

  // What the SecureStream below reports.
  void on_secure(tls::TlsSession* tls) override;
  bool on_plaintext(std::span<const uint8_t> bytes) override;
  void on_plaintext_released() override;
  void on_input_done() override;
  void on_sent(uint64_t written) override;
  void on_below_high_water() override;
  void on_stream_closed(const std::string& reason, bool handshake) override;

  // Once a second: refresh per-stream rates (and idle timeouts), release idle buffers;
  // describe the connection and its streams.
  void sample_rates(double seconds);
  void describe(nlohmann::json& out) const;

  // Stream ownership: handlers live until retire_stream() (or the connection's end).
  void adopt_stream(int32_t stream_id, std::unique_ptr<StreamHandler> handler);
  void retire_stream(int32_t stream_id);
  StreamHandler* stream(int32_t stream_id) const;

  // What a stream's handler asks of HTTP/2. The flow-control rules live here: credit goes
  // back to the peer only through consume(), once bytes left for the local socket.
  //
  // `n` bytes of the stream's DATA were written on: give the peer that much window again
  // (the connection's too, also for a stream that is already gone).
  void consume(int32_t stream_id, size_t n);
  // The same, in two halves: the connection's window now, the stream's possibly later.
  void consume_connection(size_t n);
  void consume_stream(int32_t stream_id, size_t n);
  // The handler has data again after next_data() deferred.
  void resume(int32_t stream_id);
  // RST_STREAM with `error_code`.
  void reset(int32_t stream_id, uint32_t error_code);
  // Send credit the peer gave: this stream's, and the whole connection's (0 without a session).
  int32_t send_window(int32_t stream_id) const {
    return session_ ? nghttp2_session_get_stream_remote_window_size(session_.get(), stream_id) : 0;
  }
  int32_t connection_send_window() const {
    return session_ ? nghttp2_session_get_remote_window_size(session_.get()) : 0;
  }
  // Bytes the streams hold for sending that no DATA frame has taken yet (each stream
  // reports its own changes): what the connection's send window must cover first.
  void add_unsent(int64_t delta) { unsent_ += delta; }
  int64_t unsent() const { return unsent_; }
  // Credit we gave the peer on this stream.
  int32_t receive_window(int32_t stream_id) const {
    return session_ ? nghttp2_session_get_stream_local_window_size(session_.get(), stream_id) : 0;
  }
  // The stream's receive window itself (SETTINGS, or capped by http2.shared_stream_window).
  int32_t receive_window_size(int32_t stream_id) const {
    return session_ ? nghttp2_session_get_stream_effective_local_window_size(session_.get(), stream_id) : 0;
  }

  // nghttp2 callback targets (session.cc).
  int on_send(const uint8_t* data, size_t n);
  int on_send_data(nghttp2_frame* frame, const uint8_t* framehd, size_t length);
  int on_frame_recv(const nghttp2_frame* frame);
  void on_data_chunk(int32_t stream_id, const uint8_t* data, size_t n);
  void on_stream_close(int32_t stream_id, uint32_t error_code);
  void on_frame_sent(const nghttp2_frame* frame);
  virtual int on_begin_headers(const nghttp2_frame*) { return 0; }
  virtual int on_header(const nghttp2_frame* frame, std::string_view name,
                        std::string_view value) = 0;
  long max_data_length(int32_t stream_id, int32_t conn_window, int32_t stream_window,
                       uint32_t peer_max_frame);

 protected:
  // What the finished handshake says about the peer. HBONE's rule (check_peer): ALPN h2,
  // one SPIFFE id in our trust domain. A control-plane client checks its server otherwise.
  virtual PeerCheck check_tls_peer(tls::TlsSession& tls);
  // After handshake and identity checks: the session exists and SETTINGS are queued.
  virtual bool verify_peer(tls::TlsSession& tls, std::string& why) = 0;
  virtual void on_ready() {}
  // Streams queued until the handshake is done (client tunnels): a drain lets them out.
  virtual bool has_waiting_streams() const { return false; }
  // Adds what only the role knows to describe().
  virtual void describe_role(nlohmann::json&) const {}
  // What the log calls this connection: its HBONE role unless it is something else.
  virtual std::string_view log_kind() const { return side_ == Side::server ? "gateway" : "client"; }
  virtual void after_frame_sent(const nghttp2_frame*) {}
  // Every frame of one socket read has been processed.
  virtual void after_input() {}
  // A stream the peer never answered: refused (RST_STREAM REFUSED_STREAM, or beyond a
  // GOAWAY's last stream id), or still waiting when the connection died. True when the role
  // took it over (to retry on another connection).
  virtual bool retry_unanswered(int32_t) { return false; }
  // A complete header block (request on the gateway, response on the client).
  virtual void on_headers_complete(const nghttp2_frame* frame) = 0;
  // The connection is gone; the subclass hands itself to its owner's retire path.
  virtual void on_closed(const std::string& reason) = 0;

  void set_peer_address(std::string address) { peer_address_ = std::move(address); }
  nghttp2_session* session() const { return session_.get(); }
  // A request (client) whose DATA `handler` provides; the stream id, or a negative
  // nghttp2 error.
  int32_t submit_request(std::span<const Header> headers, StreamHandler* handler);
  // A response; with a handler its DATA follows, without one the stream ends with it.
  bool submit_response(int32_t stream_id, int status, StreamHandler* handler);
  // The peer's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited until its SETTINGS arrive).
  uint32_t peer_max_concurrent_streams() const {
    return session_ ? nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                    : 0xffffffffu;
  }
  // A SETTINGS value to advertise without nghttp2 enforcing it itself (see on_send).
  void advertise_only(uint16_t id, uint32_t value) { output_.advertise_only(id, value); }


 private:
  // Streams given DATA since the last call write it on (see StreamHandler::write_received).
  void write_received();
  bool finish_handshake(tls::TlsSession& tls);  // the peer's checks, then open_session()
  void count_handshake(TlsResult result) {
    metrics().layers.get<HandshakeStats>().tls_handshakes[role()][result].add();
  }
  bool open_session();
  // Once: no new streams from now on, and each stream is told (on_connection_draining).
  void set_draining();
  void submit_goaway();
  // stream_window: auto: raises the stream and connection receive windows to `window`.
  void grow_windows(uint32_t window);

  worker::Context& worker_;
  std::shared_ptr<const tls::TlsContext> tls_context_;  // null with tls.plaintext_h2c
  const std::string& own_identity_;
  const Side side_;
  // Socket and TLS; its high-water mark bounds what nghttp2 may queue (socket.notsent_lowat).
  tls::SecureStream transport_;
  FrameOutput output_;  // frames to TLS records
  Session session_;
  WindowPolicy windows_;  // auto window and shared stream windows: what to set, and when
  Keepalive keepalive_;
  net::Timer handshake_deadline_;
  std::unordered_map<int32_t, std::unique_ptr<StreamHandler>> streams_;
  std::vector<int32_t> received_;  // streams with DATA not yet written on
  std::string peer_address_;
  std::string peer_identity_;
  std::string close_reason_;
  int64_t unsent_ = 0;            // add_unsent()
  bool ready_ = false;
  bool peer_settings_received_ = false;
  bool draining_ = false;
  bool closed_ = false;
  bool counted_active_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool output_blocked_ = false;  // a DATA frame waited for room below the high-water mark
};

}  // namespace hbone::h2
