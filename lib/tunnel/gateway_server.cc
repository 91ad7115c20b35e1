#include "tunnel/gateway_server.h"

#include "net/connection_balancer.h"
#include "net/socket_ops.h"

namespace hbone::tunnel {

GatewayServer::GatewayServer(net::WorkerContext& worker, std::shared_ptr<const PeerPolicy> policy,
                             net::Fd listener)
    : ctx_{worker, std::move(policy)} {
  acceptor_.emplace(worker.loop, std::move(listener), [this](net::Fd fd, const sockaddr_storage& peer) {
    std::string address = net::format_address(reinterpret_cast<const sockaddr*>(&peer));
    if (net::ConnectionBalancer* balancer = ctx_.worker.balancer) {
      unsigned owner = balancer->place(ctx_.worker.index);
      if (owner != ctx_.worker.index) {
        ctx_.worker.metrics.handoffs.add();
        balancer->hand_off(owner, std::move(fd), std::move(address));
        return;
      }
    }
    start_connection(std::move(fd), std::move(address));
  });
}

GatewayServer::~GatewayServer() { close_all(); }

void GatewayServer::adopt(net::Fd fd, std::string peer) {
  if (!acceptor_) {  // draining or stopping: no new connections (the socket closes here)
    ctx_.worker.balancer->release(ctx_.worker.index);
    return;
  }
  start_connection(std::move(fd), std::move(peer));
}

void GatewayServer::start_connection(net::Fd fd, std::string peer) {
  auto conn = std::make_unique<GatewayConnection>(ctx_, [this](GatewayConnection* c) { release(c); });
  GatewayConnection* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  raw->start(std::move(fd), std::move(peer));
}

void GatewayServer::release(GatewayConnection* conn) {
  auto it = connections_.find(conn);
  if (it == connections_.end()) return;
  ctx_.worker.loop.retire(std::move(it->second));
  connections_.erase(it);
  if (ctx_.worker.balancer) ctx_.worker.balancer->release(ctx_.worker.index);
}

std::vector<GatewayConnection*> GatewayServer::snapshot() const {
  // close() calls release(), which edits the map: callers iterate over a copy.
  std::vector<GatewayConnection*> all;
  for (const auto& [raw, conn] : connections_) all.push_back(raw);
  return all;
}

void GatewayServer::drain() {
  acceptor_.reset();
  for (auto* conn : snapshot()) conn->drain();
}

void GatewayServer::close_all() {
  acceptor_.reset();
  for (auto* conn : snapshot()) conn->close("shutting down");
}

}  // namespace hbone::tunnel
