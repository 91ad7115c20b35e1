#include "client/client_connection.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "h2/header.h"
#include "net/memory_pipe.h"

namespace hbone::client {
namespace {

// Bytes in flight each way between a double-HBONE connection and its carrier tunnel: about
// what the kernel's buffers of the socket pair it replaces held.
constexpr size_t kCarrierPipeBytes = 256 * 1024;

}  // namespace

ClientConnection::ClientConnection(worker::Context& worker, Upstream upstream,
                                   std::shared_ptr<const PeerPolicy> policy, OnClosed on_closed,
                                   Reopen reopen, Carrier carrier)
    : H2Connection(worker, policy->client_tls, Side::client),
      upstream_(std::move(upstream)),
      policy_(std::move(policy)),
      on_closed_(std::move(on_closed)),
      reopen_(std::move(reopen)),
      carrier_(std::move(carrier)) {}

void ClientConnection::connect() {
  std::string gateway = upstream_.address.to_string();
  set_peer_address(gateway);
  if (carrier_) {
    // Double HBONE: TLS and HTTP/2 to the gateway over one end of an in-process pipe, the
    // other end the local side of a tunnel through the east-west gateway (CONNECT gateway).
    auto [inner, outer] = net::MemoryPipe::make(loop(), kCarrierPipeBytes);
    carrier_(std::move(outer), {.role = "client",
                                .source = "hbone (inner connection to " + gateway + ")",
                                .target = gateway,
                                .route = "carrying the pool " + upstream_.key(),
                                .drain_carried = [alive = std::weak_ptr<ClientConnection* const>(self_)] {
                                  if (auto self = alive.lock()) (*self)->drain();
                                }});
    start(std::move(inner), gateway);
    return;
  }
  net::DialOptions options = worker().dial_options(config().client->connect_timeout);
  dialer_ = std::make_unique<net::Dialer>(loop(), upstream_.address, options, nullptr, [this, gateway](net::Dialer::Result r) {
    loop().retire(std::move(dialer_));  // we are inside its callback
    if (r.failure != net::Dialer::Failure::none) {
      overflow_ = r.failure == net::DialFailure::descriptors;
      close("cannot reach gateway " + gateway + ": " + net::to_string(r.failure) + " (" + r.detail + ")");
      return;
    }
    start(worker().socket_stream(std::move(r.fd), worker::Context::SocketUse::hbone, std::move(r.watcher)), gateway);
  });
}

Tunnel* ClientConnection::tunnel(int32_t stream_id) const {
  // Every stream this connection adopts is a Tunnel (submit).
  return static_cast<Tunnel*>(stream(stream_id));
}

bool ClientConnection::has_capacity() const {
  if (closed() || draining() || spent()) return false;
  size_t limit = config().http2.streams_per_connection;
  if (peer_settings_received()) {
    limit = std::min<size_t>(limit, peer_max_concurrent_streams());
  }
  return load() < limit;
}

bool ClientConnection::idle_for(std::chrono::steady_clock::time_point now, std::chrono::milliseconds timeout) {
  if (load() > 0 || !ready()) {
    idle_since_.reset();
    return false;
  }
  if (!idle_since_) idle_since_ = now;
  return now - *idle_since_ >= timeout;
}

void ClientConnection::describe_role(nlohmann::json& out) const { out["pool"] = upstream_.key(); }

bool ClientConnection::verify_peer(tls::TlsSession&, std::string& why) {
  const std::string& expected = upstream_.identity ? *upstream_.identity : policy_->gateway_identity;
  if (expected.empty() || expected == peer_identity()) return true;
  why = "gateway identity " + peer_identity() + " is not the configured " + expected;
  return false;
}

void ClientConnection::open_tunnel(Local local, Tunnel::Info info) {
  auto tunnel = std::make_unique<Tunnel>(*this, std::move(info));
  tunnel->attach_local(std::move(local));
  ++taken_;
  if (ready()) {
    submit(std::move(tunnel));
    drain_if_spent();
  } else {
    pending_.push_back(std::move(tunnel));
  }
}

void ClientConnection::on_ready() {
  auto waiting = std::move(pending_);
  pending_.clear();
  for (auto& tunnel : waiting) submit(std::move(tunnel));
  drain_if_spent();
}

void ClientConnection::submit(std::unique_ptr<Tunnel> tunnel) {
  const Tunnel::Info& info = tunnel->info();
  std::string forwarded = "for=\"" + info.source + "\"";
  const h2::Header headers[] = {
      {":method", "CONNECT"},
      {":authority", info.target},
      {"forwarded", forwarded},
  };
  int32_t id = submit_request(headers, tunnel.get());
  if (id < 0) {
    spdlog::warn("client: cannot open stream to {}: {}", info.target, nghttp2_strerror(id));
    tunnel->count_failure(503);
    return;  // the tunnel's destructor resets the local connection
  }
  tunnel->set_stream_id(id);
  adopt_stream(id, std::move(tunnel));
}

bool ClientConnection::spent() const {
  uint32_t lifetime = config().client->max_tunnels_per_connection;
  return lifetime != 0 && taken_ >= lifetime;
}

void ClientConnection::drain_if_spent() {
  // The last tunnel client.max_tunnels_per_connection allows is sent: GOAWAY (after it,
  // not before: nghttp2 starts no stream once GOAWAY is submitted), close after the last.
  if (spent() && ready()) drain();
}

int ClientConnection::on_header(const nghttp2_frame* frame, std::string_view name,
                                std::string_view value) {
  if (frame->hd.type != NGHTTP2_HEADERS || name != ":status") return 0;
  Tunnel* tunnel = this->tunnel(frame->hd.stream_id);
  int status = 0;
  std::from_chars(value.data(), value.data() + value.size(), status);
  if (tunnel) tunnel->set_status(status);
  return 0;
}

void ClientConnection::on_headers_complete(const nghttp2_frame* frame) {
  if (frame->headers.cat != NGHTTP2_HCAT_RESPONSE) return;
  Tunnel* tunnel = this->tunnel(frame->hd.stream_id);
  if (!tunnel) return;
  if (tunnel->status() == 200) {
    tunnel->established();
    tunnel->start_relay();
  } else {
    tunnel->count_failure(tunnel->status());
    tunnel->fail(NGHTTP2_CANCEL);  // a refused tunnel closes the local connection
  }
}

bool ClientConnection::retry_unanswered(int32_t stream_id) {
  Tunnel* tunnel = this->tunnel(stream_id);
  // Only before any response, and once. No byte was read from the local socket yet (the
  // relay starts at 200); at worst the gateway dialled the target and nothing was sent.
  if (!tunnel || tunnel->status() != 0 || tunnel->info().attempt > 0) return false;
  Tunnel::Handoff handoff = tunnel->release_local();
  ++handoff.info.attempt;
  retire_stream(stream_id);
  spdlog::info("client: stream {} to {} unanswered by {} ({}), retrying on another connection",
               stream_id, handoff.info.target, peer_address(), closed() ? "connection lost" : "refused");
  reopen_(std::move(handoff.local), std::move(handoff.info));
  return true;
}

void ClientConnection::on_closed(const std::string& reason) {
  if (!pending_.empty()) {
    spdlog::warn("client: {} tunnels failed: {}", pending_.size(), reason);
    // Out of descriptors is this process's overflow (UO), not the gateway's failure (UF).
    for (auto& tunnel : pending_) tunnel->count_failure(503, overflow_ ? "UO" : nullptr);
    pending_.clear();
  }
  on_closed_(this);
}

}  // namespace hbone::client
