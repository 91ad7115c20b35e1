#include "client/capture_listener.h"

#include <spdlog/spdlog.h>

#include "client/client_listener.h"
#include "client/route_decision.h"
#include "net/own_connections.h"
#include "net/socket_ops.h"

namespace hbone::client {

CaptureListener::CaptureListener(worker::Context& worker, tunnel::Admission& admission, PoolSet& pools,
                                 net::Fd listener)
    : worker_(worker),
      admission_(admission),
      pools_(pools),
      stats_(worker.metrics.layers.get<CaptureStats>()),
      direct_(worker) {
  socklen_t len = sizeof(listen_address_);
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&listen_address_), &len);
  acceptor_.emplace(worker.loop, std::move(listener),
                    [this](net::Fd fd, const sockaddr_storage& peer) { on_accept(std::move(fd), peer); },
                    worker.accept_errors());
}

void CaptureListener::refuse(net::Fd& fd, CaptureOutcome outcome) {
  stats_.captured[outcome].add();
  net::close_with_reset(fd);
}

void CaptureListener::on_accept(net::Fd fd, const sockaddr_storage& peer_storage) {
  const auto* peer = reinterpret_cast<const sockaddr*>(&peer_storage);
  std::string source = net::format_address(peer);
  sockaddr_storage original;
  const auto* destination = reinterpret_cast<const sockaddr*>(&original);
  if (!net::original_destination(fd.get(), worker_.config.client->capture->tproxy, original)) {
    spdlog::warn("capture: src={}: no original destination (not redirected here by a capture rule?)", source);
    refuse(fd, CaptureOutcome::no_destination);
    return;
  }
  std::string target = net::format_address(destination);
  // Someone connected to the capture port itself, or hbone's own dial came back (capture
  // rules without its mark): tunnelling it would dial again, forever.
  bool to_listener = net::same_endpoint(destination, reinterpret_cast<const sockaddr*>(&listen_address_));
  if (to_listener || net::OwnConnections::instance().take(peer, destination)) {
    spdlog::warn("capture: src={} dst={}: refused, {}", source, target,
                 to_listener ? "addressed to the capture listener itself"
                             : "hbone's own connection was captured (do the capture rules skip socket.mark?)");
    refuse(fd, CaptureOutcome::loop);
    return;
  }
  const tunnel::PeerPolicy& snapshot = pools_.policy();  // a reload or a push may change it
  // client.routes first (an operator's explicit word), then the mesh; with xds, what
  // neither knows leaves as it came (ztunnel's passthrough).
  RouteDecision decision = decide_route(snapshot.routes, destination);
  bool by_mesh = decision.kind == RouteDecision::Kind::reject && worker_.config.xds;
  if (by_mesh) {
    auto by_the_mesh = decide_mesh(*snapshot.mesh, snapshot.network, destination, round_robin_);
    decision = by_the_mesh ? std::move(*by_the_mesh) : passthrough();
  }
  if (decision.kind == RouteDecision::Kind::reject) {
    spdlog::warn("capture: src={} dst={}: {}, reset", source, target, decision.why);
    refuse(fd, by_mesh ? CaptureOutcome::refused : CaptureOutcome::unrouted);
    return;
  }
  if (decision.target) {
    original = *decision.target;  // `destination` names it from here on
    target = net::format_address(destination);
  }
  tunnel::Admission::Ticket ticket = admit_local(worker_, admission_, fd, source);
  if (!ticket) {
    stats_.captured[CaptureOutcome::limited].add();
    return;
  }
  if (decision.kind == RouteDecision::Kind::direct) {
    stats_.captured[CaptureOutcome::direct].add();
    direct_.start(worker_.socket_stream(std::move(fd), worker::Context::SocketUse::local), original,
                  DirectConnection::Info{std::move(source), std::move(target), std::move(decision.describe),
                                         std::move(ticket)});
    return;
  }
  stats_.captured[CaptureOutcome::tunnel].add();
  pools_.get(decision.upstream)
      .open_tunnel(worker_.socket_stream(std::move(fd), worker::Context::SocketUse::local), {.role = "client",
                                   .source = std::move(source),
                                   .target = std::move(target),
                                   .ticket = std::move(ticket),
                                   .route = std::move(decision.describe)});
}

}  // namespace hbone::client
