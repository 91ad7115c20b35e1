#include "gateway/gateway_server.h"

#include "address/reserved.h"
#include "net/connection_balancer.h"
#include "net/socket_ops.h"

namespace hbone::gateway {

GatewayServer::GatewayServer(worker::Context& worker, std::shared_ptr<const PeerPolicy> policy,
                             tunnel::Admission& admission, net::ConnectionBalancer* balancer,
                             std::shared_ptr<const net::OwnListeners> own_listeners, net::Fd listener)
    : ctx_{worker, std::move(policy), admission, balancer, std::move(own_listeners)}, connections_(worker.loop) {
  acceptor_.emplace(worker.loop, std::move(listener), [this](net::Fd fd, const sockaddr_storage& peer) {
    std::string address = net::format_address(reinterpret_cast<const sockaddr*>(&peer));
    if (ctx_.balancer) {
      unsigned owner = ctx_.balancer->place(ctx_.worker.index);
      if (owner != ctx_.worker.index) {
        ctx_.worker.metrics.handoffs.add();
        ctx_.balancer->hand_off(owner, std::move(fd), std::move(address));
        return;
      }
    }
    start_connection(std::move(fd), std::move(address));
  }, worker.accept_errors());
}

GatewayServer::~GatewayServer() { close_all(); }

void GatewayServer::adopt(net::Fd fd, std::string peer) {
  if (!acceptor_) {  // draining or stopping: no new connections (the socket closes here)
    ctx_.balancer->release(ctx_.worker.index);
    return;
  }
  start_connection(std::move(fd), std::move(peer));
}

GatewayConnection& GatewayServer::add_connection(bool balanced) {
  return connections_.add(std::make_unique<GatewayConnection>(
      ctx_, [this, balanced](GatewayConnection* c) { release(c, balanced); }));
}

void GatewayServer::serve(std::unique_ptr<net::ByteStream> stream, std::string peer) {
  add_connection(/*balanced=*/false).start(std::move(stream), std::move(peer));
}

void GatewayServer::start_connection(net::Fd fd, std::string peer) {
  GatewayConnection& conn = add_connection(/*balanced=*/true);
  sockaddr_storage peer_address{};
  socklen_t peer_length = sizeof(peer_address);
  if (::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer_address), &peer_length) == 0) conn.set_peer(peer_address);
  if (ctx_.worker.config.gateway->require_arrived_address) {
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len);
    conn.set_arrived_address(address::unmapped(reinterpret_cast<const sockaddr*>(&local)));
  }
  conn.start(ctx_.worker.socket_stream(std::move(fd), worker::Context::SocketUse::hbone), std::move(peer));
}

void GatewayServer::set_policy(std::shared_ptr<const PeerPolicy> policy) {
  bool recheck = !policy->authorization.empty() || !ctx_.policy->authorization.empty() ||
                 policy->mesh->has_policies() || ctx_.policy->mesh->has_policies();
  ctx_.policy = std::move(policy);
  if (recheck) connections_.for_each([](GatewayConnection& conn) { conn.recheck_tunnels(); });
}

void GatewayServer::release(GatewayConnection* conn, bool balanced) {
  if (connections_.release(conn) && balanced && ctx_.balancer) ctx_.balancer->release(ctx_.worker.index);
}

void GatewayServer::drain() {
  acceptor_.reset();
  connections_.drain();
}

void GatewayServer::close_all() {
  acceptor_.reset();
  connections_.close_all("shutting down");
}

}  // namespace hbone::gateway
