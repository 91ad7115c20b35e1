#include "h2/h2_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "h2/peer_check.h"
#include "h2/session.h"

namespace hbone::h2 {
namespace {

// Without socket.notsent_lowat: above this much unsent ciphertext, stop producing frames
// until the socket drains.
constexpr size_t kOutboundHighWater = 1024 * 1024;
// With it, the queue bound is the lowat, and no smaller than one full TLS record.
constexpr size_t kMinHighWater = 16 * 1024;
// Opaque data of the window sizer's PINGs (keepalive PINGs carry zeros).
constexpr uint8_t kBdpPing[8] = {'h', 'b', 'o', 'n', 'e', 'b', 'd', 'p'};
const std::string kNoIdentity;  // h2c: there are no certificates

}  // namespace

H2Connection::H2Connection(worker::Context& worker, std::shared_ptr<const tls::TlsContext> tls,
                           Side side, std::optional<Keepalive::Policy> pings)
    : worker_(worker),
      tls_context_(std::move(tls)),
      own_identity_(tls_context_ ? tls_context_->identity() : kNoIdentity),
      side_(side),
      transport_(tls_context_.get(),
                 {.high_water = worker.config.socket.notsent_lowat
                                    ? std::max<size_t>(worker.config.socket.notsent_lowat, kMinHighWater)
                                    : kOutboundHighWater},
                 *this),
      output_(transport_, worker.metrics.send_queue_seconds[side == Side::client ? metrics::kClient : metrics::kGateway]),
      windows_({.stream_window = worker.config.http2.stream_window,
                .connection_window = worker.config.http2.connection_window,
                .shared_stream_window = worker.config.http2.shared_stream_window,
                .auto_max = worker.config.http2.auto_window ? std::optional(worker.config.http2.max_window)
                                                             : std::nullopt}),
      keepalive_(
          worker.loop.uv(),
          pings.value_or(Keepalive::Policy{worker.config.http2.keepalive_interval, worker.config.http2.keepalive_timeout}),
          [this] {
            nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, nullptr);
            schedule_flush();
          },
          [this] {
            metrics().keepalive_timeouts[role()].add();
            close("keepalive timeout: no PING ack in " + std::to_string(keepalive_.policy().timeout.count()) + "ms");
          },
          [this] { return !streams_.empty(); }),
      handshake_deadline_(worker.loop.uv(), [this] {
        // A peer that connects and never finishes the handshake must not hold a socket.
        count_handshake(TlsResult::timeout);
        close("TLS handshake timeout after " +
              std::to_string(config().tls.handshake_timeout.count()) + "ms");
      }) {}

H2Connection::~H2Connection() {
  // Streams first: their teardown may still use the session.
  streams_.clear();
}

int32_t H2Connection::submit_request(std::span<const Header> headers, StreamHandler* handler) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size());
  for (const Header& h : headers) nva.push_back(make_nv(h.name, h.value));
  nghttp2_data_provider provider = data_provider(handler);
  int32_t id = nghttp2_submit_request(session_.get(), nullptr, nva.data(), nva.size(), &provider, nullptr);
  if (id > 0) schedule_flush();
  return id;
}

bool H2Connection::submit_response(int32_t stream_id, int status, StreamHandler* handler) {
  std::string code = std::to_string(status);
  nghttp2_nv headers[] = {make_nv(":status", code)};
  nghttp2_data_provider provider = data_provider(handler);
  int rv = nghttp2_submit_response(session_.get(), stream_id, headers, 1, handler ? &provider : nullptr);
  schedule_flush();
  return rv == 0;
}

void H2Connection::consume(int32_t stream_id, size_t n) {
  if (n == 0 || !session_) return;
  nghttp2_session_consume(session_.get(), stream_id, n);
  schedule_flush();
}

void H2Connection::consume_connection(size_t n) {
  if (n == 0 || !session_) return;
  nghttp2_session_consume_connection(session_.get(), n);
  schedule_flush();
}

void H2Connection::consume_stream(int32_t stream_id, size_t n) {
  if (n == 0 || !session_) return;
  nghttp2_session_consume_stream(session_.get(), stream_id, n);  // fails harmlessly once it closed
  schedule_flush();
}

void H2Connection::resume(int32_t stream_id) {
  if (session_) nghttp2_session_resume_data(session_.get(), stream_id);
  schedule_flush();
}

void H2Connection::reset(int32_t stream_id, uint32_t error_code) {
  if (!session_) return;
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, error_code);
  schedule_flush();
}

void H2Connection::start(std::unique_ptr<net::ByteStream> stream, std::string peer_address) {
  peer_address_ = std::move(peer_address);
  handshake_deadline_.start(config().tls.handshake_timeout);
  transport_.start(std::move(stream), side_ == Side::client);
  schedule_flush();
}

void H2Connection::schedule_flush() {
  if (!closed_) loop().schedule_flush(this);
}

void H2Connection::on_secure(tls::TlsSession* tls) {
  if (tls) {
    finish_handshake(*tls);
  } else {
    open_session();  // h2c
  }
}

bool H2Connection::on_plaintext(std::span<const uint8_t> in) {
  if (closed_ || !session_) return false;
  ssize_t rv = nghttp2_session_mem_recv(session_.get(), in.data(), in.size());
  if (rv < 0) {
    close(std::string("HTTP/2 error: ") + nghttp2_strerror(static_cast<int>(rv)));
    return false;
  }
  // nghttp2 decided to end the session (a flood limit, a connection error): its GOAWAY
  // goes out now and the rest of what the peer sent is not parsed.
  return nghttp2_session_want_read(session_.get());
}

void H2Connection::on_plaintext_released() { write_received(); }

void H2Connection::on_input_done() {
  if (closed_) return;
  after_input();
  schedule_flush();
}

void H2Connection::on_below_high_water() { schedule_flush(); }

void H2Connection::on_stream_closed(const std::string& reason, bool handshake) {
  if (handshake) count_handshake(handshake_result(transport_.session()->failure()));
  close(reason);
}

void H2Connection::write_received() {
  std::vector<int32_t> ids;
  ids.swap(received_);
  for (int32_t id : ids) {
    if (StreamHandler* handler = stream(id)) handler->write_received();
  }
}

PeerCheck H2Connection::check_tls_peer(tls::TlsSession& tls) {
  std::optional<identity::SpiffeId> id = tls.peer_identity();  // before error(): it explains a nullopt
  return check_peer(tls.alpn(), id, tls.error(), config().tls.trust_domain);
}

bool H2Connection::finish_handshake(tls::TlsSession& tls) {
  PeerCheck check = check_tls_peer(tls);
  peer_identity_ = check.identity;
  if (check.result == TlsResult::ok && !verify_peer(tls, check.why)) {
    check.result = TlsResult::identity;
    if (check.why.empty()) check.why = "peer rejected";
  }
  auto result = check.result;
  const std::string& why = check.why;
  count_handshake(result);
  if (result != TlsResult::ok) {
    close("rejected peer: " + why);
    return false;
  }
  return open_session();
}

bool H2Connection::open_session() {
  metrics().connections_active[role()].add(1);
  counted_active_ = true;
  handshake_deadline_.stop();

  int rv = 0;
  session_ = new_session(side_ == Side::server, this, rv);
  if (!session_) {
    close(std::string("nghttp2 session: ") + nghttp2_strerror(rv));
    return false;
  }

  submit_settings(session_.get(), side_ == Side::client, config().http2);
  keepalive_.start();
  ready_ = true;
  spdlog::debug("h2 {}: connected, peer {}", peer_address_, peer_identity_);
  on_ready();
  if (draining_ && !closed_) submit_goaway();  // drained while it shook hands
  schedule_flush();
  return !closed_;
}

void H2Connection::flush() {
  if (closed_) return;
  // Above the high-water mark, write first: if the socket takes it all now, no writable
  // event will follow to ask nghttp2 for more, and a sender with data and credit would
  // stall (found at 1 ms RTT with 64 MiB windows).
  if (transport_.above_high_water()) transport_.write();
  if (closed_) return;
  // Every exit below leaves either nghttp2 with nothing it may send, or the buffer above
  // the high-water mark and so a writable event to come (on_io then flushes again). A
  // write after nghttp2 stopped at the mark must ask nghttp2 again if it drained the
  // buffer: otherwise nothing wakes the connection (found by
  // test_notsent_lowat_bounds_what_a_tunnel_queues, where TCP_NOTSENT_LOWAT lets a later
  // send() take what an earlier one refused).
  while (session_ && !transport_.above_high_water()) {
    output_blocked_ = false;
    int rv = nghttp2_session_send(session_.get());
    if (rv != 0) {
      close(std::string("HTTP/2 send: ") + nghttp2_strerror(rv));
      return;
    }
    output_.seal();
    transport_.write();
    if (closed_) return;
    if (!output_blocked_) break;
  }
  if (session_ && !nghttp2_session_want_read(session_.get()) &&
      !nghttp2_session_want_write(session_.get()) && transport_.queued() == 0) {
    close(draining_ ? "drained" : "HTTP/2 session finished");
  }
}

void H2Connection::on_sent(uint64_t written) { output_.sent(written); }

int H2Connection::on_send(const uint8_t* data, size_t n) {
  output_.frame(data, n);
  return static_cast<int>(n);
}

int H2Connection::on_send_data(nghttp2_frame* frame, const uint8_t* framehd, size_t length) {
  if (transport_.above_high_water()) {
    transport_.write();
    if (closed_ || transport_.above_high_water()) {
      output_blocked_ = true;
      return NGHTTP2_ERR_WOULDBLOCK;
    }
  }
  StreamHandler* handler = stream(frame->hd.stream_id);
  if (!handler || !output_.data(framehd, *handler, length)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  return 0;
}

long H2Connection::max_data_length(int32_t, int32_t conn_window, int32_t stream_window,
                                   uint32_t peer_max_frame) {
  long limit = std::min<long>({conn_window, stream_window, static_cast<long>(peer_max_frame),
                               static_cast<long>(config().http2.max_frame_size)});
  if (config().socket.notsent_lowat) {
    // A frame takes at most the room left below the high-water mark: another stream's
    // bytes then wait behind no more than that (nghttp2 alternates between streams).
    size_t queued = transport_.queued(), high_water = transport_.high_water();
    long room = queued < high_water ? static_cast<long>(high_water - queued) : 0;
    limit = std::min(limit, std::max(room, static_cast<long>(kMinHighWater)));
  }
  return std::max<long>(limit, 1);
}

void H2Connection::on_frame_sent(const nghttp2_frame* frame) {
  if (frame->hd.type < metrics::WorkerMetrics::kFrameTypes) {
    metrics().frames_sent[role()][frame->hd.type].add();
  }
  if (frame->hd.type == NGHTTP2_DATA) {
    metrics().data_frame_bytes[role()].observe(static_cast<double>(frame->hd.length));
  }
  after_frame_sent(frame);
}

int H2Connection::on_frame_recv(const nghttp2_frame* frame) {
  if (frame->hd.type < metrics::WorkerMetrics::kFrameTypes) {
    metrics().frames_received[role()][frame->hd.type].add();
  }
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (frame->hd.flags & NGHTTP2_FLAG_END_HEADERS) on_headers_complete(frame);
      break;
    case NGHTTP2_PING:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) break;
      if (std::memcmp(frame->ping.opaque_data, kBdpPing, sizeof(kBdpPing)) != 0) {
        if (auto rtt = keepalive_.on_ack(std::chrono::steady_clock::now())) windows_.on_rtt(*rtt);
      } else if (auto window = windows_.on_probe_ack(std::chrono::steady_clock::now())) {
        grow_windows(*window);
      }
      break;
    case NGHTTP2_GOAWAY:
      set_draining();
      break;
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        peer_settings_received_ = true;
      } else {
        windows_.on_settings_acked();
      }
      break;
    case NGHTTP2_WINDOW_UPDATE:
      if (frame->hd.stream_id == 0) {
        for (auto& [id, handler] : streams_) handler->on_window_update();
      } else if (StreamHandler* handler = stream(frame->hd.stream_id)) {
        handler->on_window_update();
      }
      break;
    default:
      break;
  }
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
      (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)) {
    if (StreamHandler* handler = stream(frame->hd.stream_id)) handler->on_peer_end_stream();
  }
  return 0;
}

void H2Connection::grow_windows(uint32_t window) {
  nghttp2_settings_entry entry{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window};
  nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, &entry, 1);
  nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0, windows_.connection_window_for(window));
  spdlog::debug("h2 {}: receive window {} KiB (BDP probe: {:.2f} ms RTT, {:.0f} MB/s)", peer_address_,
                window >> 10, windows_.sizer()->rtt_seconds() * 1e3, windows_.sizer()->bandwidth() / 1e6);
  schedule_flush();
}

void H2Connection::on_data_chunk(int32_t stream_id, const uint8_t* data, size_t n) {
  StreamHandler* handler = stream(stream_id);
  auto now = std::chrono::steady_clock::now();
  WindowPolicy::Data decided = windows_.on_data(stream_id, n, now);
  if (decided.want_rtt) keepalive_.ping(now);
  if (decided.stream_cap &&
      nghttp2_session_get_stream_effective_local_window_size(session_.get(), stream_id) > *decided.stream_cap) {
    nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, stream_id, *decided.stream_cap);
  }
  if (decided.probe) {
    nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, kBdpPing);
    schedule_flush();
  }
  if (windows_.sizer()) {
    // nghttp2 has counted the whole frame already: this is what the peer has left.
    int32_t remaining = nghttp2_session_get_stream_local_window_size(session_.get(), stream_id);
    if (auto window = windows_.on_credit(remaining, handler && handler->keeping_up())) grow_windows(*window);
  }
  if (!handler) {
    // A stream we already let go of: give the window back so others are not starved.
    nghttp2_session_consume_connection(session_.get(), n);
    return;
  }
  handler->on_peer_data(data, n);
  if (received_.empty() || received_.back() != stream_id) received_.push_back(stream_id);
}

void H2Connection::on_stream_close(int32_t stream_id, uint32_t error_code) {
  StreamHandler* handler = stream(stream_id);
  if (!handler) return;
  if (error_code == NGHTTP2_REFUSED_STREAM && retry_unanswered(stream_id)) return;
  handler->on_stream_closed(error_code);
}

void H2Connection::adopt_stream(int32_t stream_id, std::unique_ptr<StreamHandler> handler) {
  streams_[stream_id] = std::move(handler);
  metrics().streams_per_connection[role()].observe(static_cast<double>(streams_.size()));
}

StreamHandler* H2Connection::stream(int32_t stream_id) const {
  // Not nghttp2's stream user data: a submitted request has no nghttp2 stream until its
  // HEADERS frame is serialized.
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void H2Connection::retire_stream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  loop().retire(std::move(it->second));
  streams_.erase(it);
}

void H2Connection::set_draining() {
  if (draining_) return;
  draining_ = true;
  for_each_stream([](int32_t, StreamHandler& handler) { handler.on_connection_draining(); });
}

void H2Connection::drain() {
  if (closed_ || draining_) return;
  set_draining();
  if (!session_) {
    // Streams that wait for the handshake still go out; GOAWAY follows them (open_session).
    if (!has_waiting_streams()) close("draining before handshake");
    return;
  }
  submit_goaway();
}

void H2Connection::submit_goaway() {
  int32_t last = side_ == Side::server ? nghttp2_session_get_last_proc_stream_id(session_.get()) : 0;
  nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, nullptr, 0);
  schedule_flush();
}

void H2Connection::close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = reason;
  if (counted_active_) metrics().connections_active[role()].add(-1);
  keepalive_.stop();
  handshake_deadline_.stop();
  transport_.close();
  // A pooled connection can die between two tunnels unnoticed (the gateway closed it, a NAT
  // forgot it): tunnels still waiting for their response get a second chance elsewhere.
  std::vector<int32_t> ids;
  for (const auto& [id, handler] : streams_) ids.push_back(id);
  for (int32_t id : ids) retry_unanswered(id);
  for (auto& [id, handler] : streams_) handler->abort();
  if (ready_) {
    spdlog::info("{} connection {} ({}) closed: {}", log_kind(), peer_address_, peer_identity_, reason);
  } else {
    // Never got as far as HTTP/2: a failed handshake or a rejected identity.
    spdlog::warn("{} connection {} failed: {}", log_kind(), peer_address_, reason);
  }
  on_closed(reason);
}

void H2Connection::sample_rates(double seconds) {
  if (auto target = windows_.on_sample(seconds, std::chrono::steady_clock::now()); target && session_) {
    for (const auto& [id, handler] : streams_) {
      if (nghttp2_session_get_stream_effective_local_window_size(session_.get(), id) < *target) {
        nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, id, *target);
      }
    }
    schedule_flush();
  }
  if (streams_.empty()) {
    // An idle pooled connection keeps its socket, not its 256 KiB+ buffers (they are
    // empty between reads; ByteBuffer::shrink only frees empty ones).
    output_.shrink();
    transport_.shrink();
  }
  // A stream may end (and leave streams_) while sampled: its idle timeout.
  std::vector<int32_t> ids;
  ids.reserve(streams_.size());
  for (const auto& [id, handler] : streams_) ids.push_back(id);
  for (int32_t id : ids) {
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second->sample_rate(seconds);
  }
}

void H2Connection::describe(nlohmann::json& out) const {
  using nlohmann::json;
  out["peer"] = peer_address_;
  out["peer_identity"] = peer_identity_;
  out["role"] = metrics::role_name(side_ == Side::client ? metrics::kClient : metrics::kGateway);
  out["worker"] = worker_.index;
  out["age_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  out["state"] = closed_ ? "closed" : draining_ ? "draining" : ready_ ? "ready" : "handshaking";
  out["streams"] = streams_.size();
  json tunnels = json::array();
  if (session_) {
    nghttp2_session* s = session_.get();
    out["send_window"] = nghttp2_session_get_remote_window_size(s);
    out["receive_window"] = nghttp2_session_get_local_window_size(s);
    windows_.describe(out);
    transport_.describe(out);
    // What the connection waits for: a stall shows as data to send but no event asked for.
    out["want_write"] = nghttp2_session_want_write(s) != 0;
    auto settings = [s](auto get) {
      return json{{"max_concurrent_streams", get(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)},
                  {"initial_window_size", get(s, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE)},
                  {"max_frame_size", get(s, NGHTTP2_SETTINGS_MAX_FRAME_SIZE)}};
    };
    out["peer_settings"] = settings(nghttp2_session_get_remote_settings);
    out["local_settings"] = settings(nghttp2_session_get_local_settings);
    if (side_ == Side::server) {
      // What we advertise ourselves (nghttp2 is not told, see on_send).
      out["local_settings"]["max_concurrent_streams"] = config().http2.max_concurrent_streams;
    }
  }
  for (const auto& [id, handler] : streams_) {
    json& t = tunnels.emplace_back();
    handler->describe(t);
  }
  out["tunnels"] = std::move(tunnels);
  describe_role(out);
}

}  // namespace hbone::h2
