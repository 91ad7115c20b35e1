#pragma once

#include "address/host_port.h"
#include "client/connection_pool.h"
#include "net/listen_socket.h"
#include "net/worker_context.h"
#include "tunnel/admission.h"

namespace hbone::client {

// One client.listeners entry on one worker: each accepted connection becomes a CONNECT
// to `target` on a pooled connection, once admitted under limits.max_tunnels.
class ClientListener {
 public:
  ClientListener(net::WorkerContext& worker, tunnel::Admission& admission, ConnectionPool& pool,
                 net::Fd listener, address::HostPort target);

 private:
  void on_accept(net::Fd fd, const sockaddr_storage& peer);

  net::WorkerContext& worker_;
  tunnel::Admission& admission_;
  ConnectionPool& pool_;
  address::HostPort target_;
  net::Acceptor acceptor_;
};

}  // namespace hbone::client
