#pragma once

#include <memory>
#include <vector>

#include "client/client_connection.h"
#include "h2/connection_set.h"

namespace hbone::client {

// A worker's HTTP/2 connections to one upstream gateway. Tunnels fill the oldest connection up to
// min(streams_per_connection, the gateway's SETTINGS_MAX_CONCURRENT_STREAMS); then a new
// connection is dialled. Parallel tunnels thus spread over several TLS connections.
class ConnectionPool {
 public:
  // How a connection of a double-HBONE pool reaches its gateway: one end of a pipe
  // handed to a tunnel of the east-west gateway's pool. Empty: dialled over TCP.
  using Carrier = ClientConnection::Carrier;
  ConnectionPool(worker::Context& worker, Upstream upstream, std::shared_ptr<const PeerPolicy> policy,
                 Carrier carrier = {});
  ~ConnectionPool() { close_all(); }  // before the set: no retried tunnel is placed again

  // Puts a local connection on a pooled connection with room (dialling one if needed).
  void open_tunnel(ClientConnection::Local local, Tunnel::Info info);
  size_t size() const { return connections_.size(); }
  template <typename F>
  void for_each_connection(F&& f) {
    connections_.for_each(f);
  }
  void drain();
  void close_all();
  // Drains (GOAWAY) connections without a tunnel for client.pool_idle_timeout.
  void close_idle(std::chrono::steady_clock::time_point now);
  // Connections dialled from now on use `policy`; pooled ones keep theirs.
  void set_policy(std::shared_ptr<const PeerPolicy> policy) { policy_ = std::move(policy); }

 private:
  ClientConnection& acquire();

  worker::Context& worker_;
  Upstream upstream_;
  std::shared_ptr<const PeerPolicy> policy_;
  Carrier carrier_;
  h2::ConnectionSet<ClientConnection> connections_;
  bool stopping_ = false;  // draining or closing: retried tunnels are not placed again
};

}  // namespace hbone::client
