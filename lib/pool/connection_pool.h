#pragma once

#include <memory>
#include <vector>

#include "config/config.h"
#include "net/event_loop.h"
#include "tls/tls_context.h"
#include "tunnel/client_connection.h"

namespace hbone::pool {

// A worker's HTTP/2 connections to the gateway. Tunnels fill the oldest connection up to
// min(streams_per_connection, the gateway's SETTINGS_MAX_CONCURRENT_STREAMS); then a new
// connection is dialled. Parallel tunnels thus spread over several TLS connections.
class ConnectionPool {
 public:
  ConnectionPool(net::WorkerContext& worker, std::shared_ptr<const tunnel::PeerPolicy> policy);
  ~ConnectionPool();

  // Puts a local connection on a pooled connection with room (dialling one if needed).
  void open_tunnel(net::Fd local, tunnel::Tunnel::Info info);
  size_t size() const { return connections_.size(); }
  template <typename F>
  void for_each_connection(F&& f) {
    for (auto& conn : connections_) f(*conn);
  }
  void drain();
  void close_all();
  // Connections dialled from now on use `policy`; pooled ones keep theirs.
  void set_policy(std::shared_ptr<const tunnel::PeerPolicy> policy) { policy_ = std::move(policy); }

 private:
  tunnel::ClientConnection& acquire();
  void release(tunnel::ClientConnection* conn);
  std::vector<tunnel::ClientConnection*> snapshot() const;

  net::WorkerContext& worker_;
  std::shared_ptr<const tunnel::PeerPolicy> policy_;
  std::vector<std::unique_ptr<tunnel::ClientConnection>> connections_;
  bool stopping_ = false;  // draining or closing: retried tunnels are not placed again
};

}  // namespace hbone::pool
