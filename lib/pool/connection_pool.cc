#include "pool/connection_pool.h"

#include <algorithm>

#include "net/socket_ops.h"

namespace hbone::pool {

ConnectionPool::ConnectionPool(net::WorkerContext& worker,
                               std::shared_ptr<const tunnel::PeerPolicy> policy)
    : worker_(worker), policy_(std::move(policy)) {}

ConnectionPool::~ConnectionPool() { close_all(); }

tunnel::ClientConnection& ConnectionPool::acquire() {
  for (auto& conn : connections_) {
    if (conn->has_capacity()) return *conn;
  }
  auto conn = std::make_unique<tunnel::ClientConnection>(
      worker_, policy_, [this](tunnel::ClientConnection* c) { release(c); },
      [this](net::Fd local, tunnel::Tunnel::Info info) { open_tunnel(std::move(local), std::move(info)); });
  tunnel::ClientConnection& ref = *conn;
  connections_.push_back(std::move(conn));
  ref.connect();
  return ref;
}

void ConnectionPool::open_tunnel(net::Fd local, tunnel::Tunnel::Info info) {
  if (stopping_) {
    net::close_with_reset(local);
    return;
  }
  acquire().open_tunnel(std::move(local), std::move(info));
}

void ConnectionPool::release(tunnel::ClientConnection* conn) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [conn](const auto& c) { return c.get() == conn; });
  if (it == connections_.end()) return;
  worker_.loop.retire(std::move(*it));  // it may be inside its own callback
  connections_.erase(it);
}

std::vector<tunnel::ClientConnection*> ConnectionPool::snapshot() const {
  // close() calls release(), which edits the vector: callers iterate over a copy.
  std::vector<tunnel::ClientConnection*> all;
  for (const auto& conn : connections_) all.push_back(conn.get());
  return all;
}

void ConnectionPool::drain() {
  stopping_ = true;
  for (auto* conn : snapshot()) conn->drain();
}

void ConnectionPool::close_all() {
  stopping_ = true;
  for (auto* conn : snapshot()) conn->close("shutting down");
}

}  // namespace hbone::pool
