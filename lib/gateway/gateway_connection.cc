#include "gateway/gateway_connection.h"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <utility>

#include "address/reserved.h"
#include "gateway/destination_guard.h"
#include "gateway/forwarded.h"
#include "gateway/proxy_protocol.h"
#include "net/socket_ops.h"
#include "tunnel/trace_context.h"
#include "util/escape.h"

namespace hbone::gateway {

GatewayConnection::GatewayConnection(GatewayContext& ctx, OnClosed on_closed)
    : H2Connection(ctx.worker, ctx.policy->server_tls, Side::server),
      ctx_(ctx),
      on_closed_(std::move(on_closed)) {
  advertise_only(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, ctx.worker.config.http2.max_concurrent_streams);
}

bool GatewayConnection::verify_peer(tls::TlsSession&, std::string&) {
  // Identities outside the allow-list still complete the handshake: each CONNECT then
  // gets a 403 that says why, instead of an opaque TLS failure. (Checked again per
  // request: a reload may change the list under an open connection.)
  if (!ctx_.policy->allows_identity(peer_identity())) {
    spdlog::warn("gateway: {} identity {} is not in allowed_identities; its CONNECTs get 403",
                 peer_address(), peer_identity());
  }
  return true;
}

GatewayStream* GatewayConnection::request(int32_t stream_id) const {
  // Every stream this connection adopts is a GatewayStream (on_begin_headers).
  return static_cast<GatewayStream*>(stream(stream_id));
}

int GatewayConnection::on_begin_headers(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  int32_t id = frame->hd.stream_id;
  if (stream_count() >= config().http2.max_concurrent_streams) {
    // Over the advertised limit (or sent before our SETTINGS arrived): refuse this stream
    // only. The client may retry it, the target was never dialled. Its headers are still
    // decoded (HPACK state) and then ignored.
    spdlog::debug("gateway: {} stream {} refused: {} streams open", peer_address(), id,
                  stream_count());
    reset(id, NGHTTP2_REFUSED_STREAM);
    metrics().streams_refused[metrics::kGateway].add();
    return 0;
  }
  adopt_stream(id, std::make_unique<GatewayStream>(*this, id, peer_address()));
  return 0;
}

int GatewayConnection::on_header(const nghttp2_frame* frame, std::string_view name,
                                 std::string_view value) {
  if (GatewayStream* stream = request(frame->hd.stream_id)) {
    stream->add_header(name, value, config().http2.max_header_list_size);
  }
  return 0;
}

void GatewayConnection::on_headers_complete(const nghttp2_frame* frame) {
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return;  // trailers: not ours to answer
  if (GatewayStream* stream = request(frame->hd.stream_id)) handle_request(*stream);
}

void GatewayConnection::handle_request(GatewayStream& stream) {
  const GatewayStream::Request& request = stream.request();
  if (auto trace_id = tunnel::trace_id_of(request.traceparent)) stream.set_trace_id(std::move(*trace_id));
  Verdict verdict = admit_request({request.method, request.authority, request.header_bytes}, peer(),
                                  rules(*ctx_.policy, *ctx_.own_listeners));
  if (!verdict.named.host.empty()) {
    stream.set_target(verdict.named.to_string());
    stream.destination() = {verdict.named.host, verdict.named.port, {}};
  }
  if (!verdict.admitted()) {
    // A destination refused before any dial is a forbidden connect all the same.
    if (verdict.refusal == DestinationRefusal::not_allowed) {
      metrics().upstream_connect_failures[net::DialFailure::forbidden].add();
    }
    stream.note(verdict);
    count_refusal(stream);
    respond_error(stream, verdict.status, verdict.reason);
    return;
  }
  tunnel::Admission::Refusal refusal;
  tunnel::Admission::Ticket ticket = ctx_.admission.admit(peer_identity(), refusal);
  if (!ticket) {
    metrics().layers.get<tunnel::TunnelStats>().limit_rejections[metrics::kGateway][refusal].add();
    // 503: this process is full, another gateway replica may not be; 429: this peer
    // holds its share, it should back off.
    bool process = refusal == tunnel::Admission::Refusal::max_tunnels;
    respond_error(stream, process ? 503 : 429, std::string(tunnel::label(refusal)) + " reached", "UO");
    return;
  }
  stream.admit(std::move(ticket));
  stream.set_pending_target(std::move(verdict.target));
  to_dial_.push_back(stream.stream_id());
}

void GatewayConnection::after_input() {
  for (int32_t id : std::exchange(to_dial_, {})) {
    GatewayStream* stream = request(id);
    if (!stream) continue;  // reset within the batch
    if (auto target = stream->take_pending_target()) dial(*stream, *target);
  }
}

void GatewayConnection::dial(GatewayStream& stream, const address::HostPort& target) {
  // Every candidate address gets its verdict. The check holds the policy and listener
  // snapshots: a reload during the dial must not free the lists it reads. The stream owns
  // the dialer, so the check may note its verdict on it.
  auto check = [this, snapshot = ctx_.policy, own = ctx_.own_listeners, &stream](const sockaddr* address) {
    return vet(*snapshot, *own, stream, address);
  };
  net::DialOptions options = worker().dial_options(config().gateway->connect_timeout);
  if (worker().original_source) options.from = peer_;
  stream.start_dial(std::make_unique<net::Dialer>(
      loop(), target, std::move(options), std::move(check),
      [this, id = stream.stream_id()](net::Dialer::Result result) { on_dialed(id, std::move(result)); }));
}

Peer GatewayConnection::peer() const {
  return {peer_identity(), reinterpret_cast<const sockaddr*>(&peer_), reinterpret_cast<const sockaddr*>(&arrived_)};
}

Rules GatewayConnection::rules(const PeerPolicy& snapshot, const net::OwnListeners& own) const {
  return {snapshot, own, config().http2.max_header_list_size, config().gateway->require_arrived_address,
          config().gateway->transparent};
}

std::string GatewayConnection::vet(const PeerPolicy& snapshot, const net::OwnListeners& own, GatewayStream& stream,
                                   const sockaddr* address) const {
  auto& d = stream.destination();
  Verdict verdict = admit_address({d.host, d.port}, address, peer(), rules(snapshot, own));
  stream.note(verdict);
  // What the policies judged (judged again when they change while the tunnel is open).
  if (verdict.refusal == DestinationRefusal::none) d.address = address::unmapped(address);
  return verdict.reason;
}

void GatewayConnection::count_refusal(const GatewayStream& stream) {
  if (!stream.allowed()) {
    metrics().policy_decision(stream.decided_by(), false)->add();
  } else if (stream.refusal() != DestinationRefusal::none) {
    metrics().layers.get<GatewayStats>().destinations_refused[stream.refusal()].add();
  }
}

void GatewayConnection::set_peer(const sockaddr_storage& address) {
  peer_ = address::unmapped(reinterpret_cast<const sockaddr*>(&address));
}

void GatewayConnection::recheck_tunnels() {
  const PeerPolicy& snapshot = *ctx_.policy;
  for_each_stream([&](int32_t, h2::StreamHandler& handler) {
    auto& stream = static_cast<GatewayStream&>(handler);
    if (stream.status() != 200) return;  // still dialling: its check reads the old snapshot; answered: over
    const auto& d = stream.destination();
    policy::Decision decision = decide(snapshot, peer(), {d.host, d.port}, reinterpret_cast<const sockaddr*>(&d.address));
    if (decision.allowed) return;
    metrics().policy_decision(decision.policy, false)->add();
    metrics().policy_resets.add();
    spdlog::info("gateway: {} stream {} reset: policy={} denies it now peer={} dst={}", peer_address(),
                 stream.stream_id(), decision.policy, peer_identity(), stream.info().target);
    stream.fail(NGHTTP2_CONNECT_ERROR, "denied by a changed policy");
  });
}

void GatewayConnection::on_dialed(int32_t stream_id, net::Dialer::Result result) {
  if (result.failure != net::DialFailure::none) {
    metrics().upstream_connect_failures[result.failure].add();
  }
  GatewayStream* stream = request(stream_id);
  if (!stream) return;  // reset while dialling (the dial is cancelled then; a late result)
  stream->dial_done();
  if (closed()) return;
  if (result.failure == net::DialFailure::none) {
    // The verdict again, under the snapshots in force now: a policy, allow-list or host
    // address that changed while the target was being dialled decides this tunnel too.
    std::string why = vet(*ctx_.policy, *ctx_.own_listeners, *stream, reinterpret_cast<const sockaddr*>(&result.address));
    if (!why.empty()) {
      net::close_watched(result.watcher, result.fd, /*reset=*/true);  // the target sees a reset, no byte
      result.failure = net::DialFailure::forbidden;
      result.detail = why + " (changed while dialling)";
      metrics().upstream_connect_failures[result.failure].add();
    }
  }
  if (result.failure == net::DialFailure::forbidden) {
    count_refusal(*stream);
    respond_error(*stream, 403, result.detail);
    return;
  }
  if (result.failure != net::DialFailure::none) {
    // Out of descriptors is this process's overflow (UO), not the target's failure (UF).
    respond_error(*stream, 503, std::string(net::to_string(result.failure)) + ": " + result.detail,
                  result.failure == net::DialFailure::descriptors ? "UO" : nullptr);
    return;
  }
  if (config().gateway->proxy_protocol_v2 && !send_proxy_header(*stream, result)) {
    respond_error(*stream, 503, "cannot send the PROXY header to " + stream->info().target);
    return;
  }
  if (!stream->decided_by().empty()) metrics().policy_decision(stream->decided_by(), true)->add();
  stream->set_status(200);
  stream->established();
  stream->attach_local(worker().socket_stream(std::move(result.fd), worker::Context::SocketUse::local, std::move(result.watcher)));
  if (!submit_response(stream_id, 200, stream)) {
    stream->fail(NGHTTP2_INTERNAL_ERROR);
    return;
  }
  stream->start_relay();
}

bool GatewayConnection::send_proxy_header(const GatewayStream& stream, const net::Dialer::Result& dialed) {
  // The client's own address as its CONNECT names it, from a peer trusted to name it;
  // else the HBONE peer's own address.
  sockaddr_storage source = peer_;
  ForwardedFor named = forwarded_for(stream.request().forwarded);
  if (named.outcome != ForwardedFor::Outcome::absent) {
    if (!ctx_.policy->trusts_forwarder(peer_identity())) {
      metrics().layers.get<GatewayStats>().forwarded_ignored[ForwardedIgnored::untrusted].add();
    } else if (named.outcome == ForwardedFor::Outcome::malformed) {
      metrics().layers.get<GatewayStats>().forwarded_ignored[ForwardedIgnored::malformed].add();
      spdlog::debug("gateway: {} stream {}: malformed forwarded header ignored: {}", peer_address(), stream.stream_id(),
                    util::escaped(stream.request().forwarded));
    } else {
      source = named.address;
    }
  }
  std::string header = proxy_v2_header(reinterpret_cast<const sockaddr*>(&source),
                                       reinterpret_cast<const sockaddr*>(&dialed.address), peer_identity());
  // A fresh connection's send buffer is empty: a short header goes out whole, at once.
  ssize_t n = ::send(dialed.fd.get(), header.data(), header.size(), MSG_NOSIGNAL);
  return n == static_cast<ssize_t>(header.size());
}

void GatewayConnection::respond_error(GatewayStream& stream, int status, const std::string& why,
                                      const char* flags) {
  stream.set_status(status);
  stream.count_failure(status, flags);
  const auto& info = stream.info();
  std::string reason = util::escaped(why);
  spdlog::info("gateway: {} stream {} -> {}: {} flags={} peer={} dst={}{}{}", peer_address(), stream.stream_id(), status,
               reason, flags ? flags : tunnel::response_flags(status), peer_identity(), info.target,
               info.trace_id.empty() ? "" : " trace_id=", info.trace_id);
  stream.log_refused(std::move(reason));
  submit_response(stream.stream_id(), status, nullptr);
}

void GatewayConnection::after_frame_sent(const nghttp2_frame* frame) {
  // Once a final error response is out, end the client's half too (RFC 9113 §8.1:
  // RST_STREAM NO_ERROR). Submitted earlier, the reset could overtake the response.
  if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return;
  GatewayStream* stream = request(frame->hd.stream_id);
  if (stream && stream->status() != 200) reset(frame->hd.stream_id, NGHTTP2_NO_ERROR);
}

void GatewayConnection::on_closed(const std::string&) {
  to_dial_.clear();
  on_closed_(this);
}

}  // namespace hbone::gateway
