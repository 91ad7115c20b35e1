#pragma once

#include "net/host_port.h"
#include "net/listen_socket.h"
#include "pool/connection_pool.h"

namespace hbone::tunnel {

// One client.listeners entry on one worker: each accepted connection becomes a CONNECT
// to `target` on a pooled connection.
class ClientListener {
 public:
  ClientListener(net::EventLoop& loop, pool::ConnectionPool& pool, net::Fd listener,
                 net::HostPort target);

 private:
  pool::ConnectionPool& pool_;
  net::HostPort target_;
  net::Acceptor acceptor_;
};

}  // namespace hbone::tunnel
