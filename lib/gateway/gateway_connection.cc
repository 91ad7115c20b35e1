#include "gateway/gateway_connection.h"

#include <spdlog/spdlog.h>

#include "h2/header.h"

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

int GatewayConnection::on_begin_headers(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  int32_t id = frame->hd.stream_id;
  if (stream_count() >= config().http2.max_concurrent_streams) {
    // Over the advertised limit (or sent before our SETTINGS arrived): refuse this stream
    // only. The client may retry it, the target was never dialled. Its headers are still
    // decoded (HPACK state) and then ignored.
    spdlog::debug("gateway: {} stream {} refused: {} streams open", peer_address(), id,
                  stream_count());
    nghttp2_submit_rst_stream(session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    metrics().streams_refused[metrics::kGateway].add();
    schedule_flush();
    return 0;
  }
  requests_[id] = Request{};
  adopt_stream(id, std::make_unique<Tunnel>(*this, Tunnel::Info{"gateway", peer_address(), "", 0, {}}));
  static_cast<Tunnel*>(stream(id))->set_stream_id(id);
  return 0;
}

int GatewayConnection::on_header(const nghttp2_frame* frame, std::string_view name,
                                 std::string_view value) {
  auto it = requests_.find(frame->hd.stream_id);
  if (it == requests_.end()) return 0;
  Request& request = it->second;
  request.header_bytes += name.size() + value.size() + 32;
  if (request.header_bytes > config().http2.max_header_list_size) return 0;  // 431 follows
  if (name == ":method") {
    request.method = value;
  } else if (name == ":authority") {
    request.authority = value;
  } else if (name == "forwarded") {
    request.forwarded = value;
  }
  return 0;
}

void GatewayConnection::on_headers_complete(const nghttp2_frame* frame) {
  auto it = requests_.find(frame->hd.stream_id);
  if (it == requests_.end()) return;
  Request request = std::move(it->second);
  requests_.erase(it);
  handle_request(frame->hd.stream_id, request);
}

void GatewayConnection::handle_request(int32_t stream_id, const Request& request) {
  auto* tunnel = static_cast<Tunnel*>(stream(stream_id));
  if (!tunnel) return;
  // nghttp2 already reset malformed CONNECTs (RFC 9113 §8.5: :scheme/:path present or
  // :authority missing) with PROTOCOL_ERROR; what reaches here is well-formed HTTP/2.
  if (request.header_bytes > config().http2.max_header_list_size) {
    // A stream-level answer (RFC 6585): the connection and its other tunnels go on.
    respond_error(stream_id, 431, "request headers of " + std::to_string(request.header_bytes) +
                                      " bytes exceed max_header_list_size");
    return;
  }
  if (request.method != "CONNECT") {
    respond_error(stream_id, 405, "method " + request.method + " is not CONNECT");
    return;
  }
  std::string why;
  auto target = address::parse_host_port(request.authority, &why);
  if (!target) {
    respond_error(stream_id, 400, "bad authority \"" + request.authority + "\": " + why);
    return;
  }
  tunnel->set_target(target->to_string());
  if (!ctx_.policy->allows_identity(peer_identity())) {
    respond_error(stream_id, 403, "identity " + peer_identity() + " not allowed");
    return;
  }
  const address::DestinationPolicy& destinations = ctx_.policy->destinations;
  if (!destinations.allows_any() && !destinations.allows_authority(*target) &&
      !destinations.checks_addresses()) {
    metrics().upstream_connect_failures[net::Dialer::Failure::forbidden].add();
    respond_error(stream_id, 403, "destination " + target->to_string() + " not allowed");
    return;
  }
  tunnel::Admission::Refusal refusal;
  tunnel::Admission::Ticket ticket = ctx_.admission.admit(peer_identity(), refusal);
  if (!ticket) {
    metrics().limit_rejections[metrics::kGateway][refusal].add();
    // 503: this process is full, another gateway replica may not be; 429: this peer
    // holds its share, it should back off.
    bool process = refusal == tunnel::Admission::Refusal::max_tunnels;
    respond_error(stream_id, process ? 503 : 429, std::string(metrics::label(refusal)) + " reached", "UO");
    return;
  }
  tunnel->admit(std::move(ticket));
  to_dial_.emplace_back(stream_id, std::move(*target));
}

void GatewayConnection::after_input() {
  auto batch = std::move(to_dial_);
  to_dial_.clear();
  for (const auto& [stream_id, target] : batch) {
    if (stream(stream_id)) dial(stream_id, target);
  }
}

void GatewayConnection::on_stream_ended(int32_t stream_id) {
  requests_.erase(stream_id);  // reset before its header block ended
  auto it = dials_.find(stream_id);
  if (it == dials_.end()) return;
  loop().retire(std::move(it->second));  // cancels the connect
  dials_.erase(it);
}

void GatewayConnection::dial(int32_t stream_id, const address::HostPort& target) {
  const address::DestinationPolicy& policy = ctx_.policy->destinations;
  net::Dialer::AddressCheck check;
  if (!policy.allows_any() && !policy.allows_authority(target)) {
    // Holds the snapshot: a reload during the dial must not free the list it checks.
    check = [snapshot = ctx_.policy](const sockaddr* addr) {
      return snapshot->destinations.allows_address(addr);
    };
  }
  dials_[stream_id] = std::make_unique<net::Dialer>(
      loop(), target, config().gateway->connect_timeout, std::move(check),
      [this, stream_id](net::Dialer::Result result) { on_dialed(stream_id, std::move(result)); });
}

void GatewayConnection::on_dialed(int32_t stream_id, net::Dialer::Result result) {
  auto it = dials_.find(stream_id);
  if (it != dials_.end()) {
    loop().retire(std::move(it->second));  // we are inside its callback
    dials_.erase(it);
  }
  auto* tunnel = static_cast<Tunnel*>(stream(stream_id));
  if (result.failure != net::Dialer::Failure::none) {
    metrics().upstream_connect_failures[result.failure].add();
  }
  if (closed() || !tunnel) return;  // the stream was reset while dialling
  if (result.failure == net::Dialer::Failure::forbidden) {
    respond_error(stream_id, 403, result.detail);
    return;
  }
  if (result.failure != net::Dialer::Failure::none) {
    respond_error(stream_id, 503, std::string(net::to_string(result.failure)) + ": " + result.detail);
    return;
  }
  tunnel->set_status(200);
  tunnel->established();
  tunnel->attach_local(std::move(result.fd));
  nghttp2_nv status[] = {h2::make_nv(":status", "200")};
  nghttp2_data_provider provider = data_provider(tunnel);
  int rv = nghttp2_submit_response(session(), stream_id, status, 1, &provider);
  if (rv != 0) {
    tunnel->fail(NGHTTP2_INTERNAL_ERROR);
    return;
  }
  tunnel->start_relay();
  schedule_flush();
}

void GatewayConnection::respond_error(int32_t stream_id, int status, const std::string& why,
                                      const char* flags) {
  auto* tunnel = static_cast<Tunnel*>(stream(stream_id));
  if (tunnel) {
    tunnel->set_status(status);
    tunnel->count_failure(status, flags);
  }
  spdlog::info("gateway: {} stream {} -> {}: {}", peer_address(), stream_id, status, why);
  std::string code = std::to_string(status);
  nghttp2_nv headers[] = {h2::make_nv(":status", code)};
  nghttp2_submit_response(session(), stream_id, headers, 1, nullptr);
  schedule_flush();
}

void GatewayConnection::after_frame_sent(const nghttp2_frame* frame) {
  // Once a final error response is out, end the client's half too (RFC 9113 §8.1:
  // RST_STREAM NO_ERROR). Submitted earlier, the reset could overtake the response.
  if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return;
  auto* tunnel = static_cast<Tunnel*>(stream(frame->hd.stream_id));
  if (tunnel && tunnel->status() != 200) {
    nghttp2_submit_rst_stream(session(), NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
}

void GatewayConnection::on_closed(const std::string&) {
  dials_.clear();
  to_dial_.clear();
  on_closed_(this);
}

}  // namespace hbone::gateway
