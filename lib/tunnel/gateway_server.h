#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "net/listen_socket.h"
#include "tunnel/gateway_connection.h"

namespace hbone::tunnel {

// The gateway role on one worker: its share of gateway.listen and its connections.
class GatewayServer {
 public:
  GatewayServer(net::WorkerContext& worker, std::shared_ptr<const PeerPolicy> policy, net::Fd listener);
  ~GatewayServer();

  size_t connection_count() const { return connections_.size(); }
  template <typename F>
  void for_each_connection(F&& f) {
    for (auto& [raw, conn] : connections_) f(*conn);
  }
  // Stops accepting; each connection sends GOAWAY and ends with its last stream.
  void drain();
  void close_all();
  // New connections and new requests use `policy`; open tunnels are left alone.
  void set_policy(std::shared_ptr<const PeerPolicy> policy) { ctx_.policy = std::move(policy); }
  // A connection another worker accepted and the balancer placed here (already counted).
  void adopt(net::Fd fd, std::string peer);

 private:
  void start_connection(net::Fd fd, std::string peer);
  void release(GatewayConnection* conn);
  std::vector<GatewayConnection*> snapshot() const;

  GatewayContext ctx_;
  std::optional<net::Acceptor> acceptor_;
  std::unordered_map<GatewayConnection*, std::unique_ptr<GatewayConnection>> connections_;
};

}  // namespace hbone::tunnel
