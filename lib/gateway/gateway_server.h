#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "gateway/gateway_connection.h"
#include "h2/connection_set.h"
#include "net/listen_socket.h"
#include "net/own_listeners.h"

namespace hbone::gateway {

// The gateway role on one worker: its share of gateway.listen and its connections.
class GatewayServer {
 public:
  // `balancer`: null, or shared by all workers (gateway.balance: exact).
  GatewayServer(worker::Context& worker, std::shared_ptr<const PeerPolicy> policy,
                tunnel::Admission& admission, net::ConnectionBalancer* balancer,
                std::shared_ptr<const net::OwnListeners> own_listeners, net::Fd listener);
  ~GatewayServer();

  size_t connection_count() const { return connections_.size(); }
  template <typename F>
  void for_each_connection(F&& f) {
    connections_.for_each(f);
  }
  // Stops accepting; each connection sends GOAWAY and ends with its last stream.
  void drain();
  void close_all();
  // New connections and new requests use `policy`; open tunnels carry on unless its
  // gateway.policies deny them.
  void set_policy(std::shared_ptr<const PeerPolicy> policy);
  // Dials from now on refuse these (client.listeners changed by a reload).
  void set_own_listeners(std::shared_ptr<const net::OwnListeners> own) { ctx_.own_listeners = std::move(own); }
  // A connection another worker accepted and the balancer placed here (already counted).
  void adopt(net::Fd fd, std::string peer);
  // A connection that is no socket of a listener (an in-process pipe: the HTTP/2 tests),
  // served like an accepted one; the balancer does not count it.
  void serve(std::unique_ptr<net::ByteStream> stream, std::string peer);

 private:
  void start_connection(net::Fd fd, std::string peer);
  GatewayConnection& add_connection(bool balanced);
  void release(GatewayConnection* conn, bool balanced);

  GatewayContext ctx_;
  std::optional<net::Acceptor> acceptor_;
  h2::ConnectionSet<GatewayConnection> connections_;
};

}  // namespace hbone::gateway
