#pragma once

#include "net/host_port.h"
#include "net/listen_socket.h"
#include "net/worker_context.h"
#include "pool/connection_pool.h"

namespace hbone::tunnel {

// One client.listeners entry on one worker: each accepted connection becomes a CONNECT
// to `target` on a pooled connection, once admitted under limits.max_tunnels.
class ClientListener {
 public:
  ClientListener(net::WorkerContext& worker, pool::ConnectionPool& pool, net::Fd listener,
                 net::HostPort target);

 private:
  void on_accept(net::Fd fd, const sockaddr_storage& peer);

  net::WorkerContext& worker_;
  pool::ConnectionPool& pool_;
  net::HostPort target_;
  net::Acceptor acceptor_;
};

}  // namespace hbone::tunnel
