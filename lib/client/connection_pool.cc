#include "client/connection_pool.h"

#include <spdlog/spdlog.h>


namespace hbone::client {

ConnectionPool::ConnectionPool(worker::Context& worker, Upstream upstream,
                               std::shared_ptr<const PeerPolicy> policy, Carrier carrier)
    : worker_(worker),
      upstream_(std::move(upstream)),
      policy_(std::move(policy)),
      carrier_(std::move(carrier)),
      connections_(worker.loop) {}

ClientConnection& ConnectionPool::acquire() {
  ClientConnection* found = nullptr;
  connections_.for_each([&found](ClientConnection& conn) {
    if (!found && conn.has_capacity()) found = &conn;
  });
  if (found) return *found;
  ClientConnection& conn = connections_.add(std::make_unique<ClientConnection>(
      worker_, upstream_, policy_, [this](ClientConnection* c) { connections_.release(c); },
      [this](ClientConnection::Local local, Tunnel::Info info) { open_tunnel(std::move(local), std::move(info)); },
      carrier_));
  conn.connect();
  return conn;
}

void ConnectionPool::open_tunnel(ClientConnection::Local local, Tunnel::Info info) {
  if (stopping_) {
    local->close(/*reset=*/true);
    return;
  }
  acquire().open_tunnel(std::move(local), std::move(info));
}

void ConnectionPool::close_idle(std::chrono::steady_clock::time_point now) {
  std::chrono::milliseconds timeout = worker_.config.client->pool_idle_timeout;
  if (timeout.count() == 0) return;
  connections_.for_each([&](ClientConnection& conn) {
    if (!conn.draining() && conn.idle_for(now, timeout)) {
      spdlog::info("client connection {} ({}): idle for {}s, closing", conn.peer_address(), conn.peer_identity(),
                   std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
      conn.drain();
    }
  });
}

void ConnectionPool::drain() {
  stopping_ = true;
  connections_.drain();
}

void ConnectionPool::close_all() {
  stopping_ = true;
  connections_.close_all("shutting down");
}

}  // namespace hbone::client
