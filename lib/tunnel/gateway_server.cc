#include "tunnel/gateway_server.h"

#include "net/socket_ops.h"

namespace hbone::tunnel {

GatewayServer::GatewayServer(net::WorkerContext& worker, std::shared_ptr<const PeerPolicy> policy,
                             net::Fd listener)
    : ctx_{worker, std::move(policy)} {
  acceptor_.emplace(worker.loop, std::move(listener), [this](net::Fd fd, const sockaddr_storage& peer) {
    auto conn = std::make_unique<GatewayConnection>(ctx_, [this](GatewayConnection* c) { release(c); });
    GatewayConnection* raw = conn.get();
    connections_.emplace(raw, std::move(conn));
    raw->start(std::move(fd), net::format_address(reinterpret_cast<const sockaddr*>(&peer)));
  });
}

GatewayServer::~GatewayServer() { close_all(); }

void GatewayServer::release(GatewayConnection* conn) {
  auto it = connections_.find(conn);
  if (it == connections_.end()) return;
  ctx_.worker.loop.retire(std::move(it->second));
  connections_.erase(it);
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
