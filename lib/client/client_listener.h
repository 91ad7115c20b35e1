#pragma once

#include "address/host_port.h"
#include "client/pool_set.h"
#include "net/listen_socket.h"
#include "worker/context.h"
#include "tunnel/admission.h"

namespace hbone::client {

// One client.listeners entry on one worker: each accepted connection becomes a CONNECT
// to `target` through client.gateway, once admitted under limits.max_tunnels.
class ClientListener {
 public:
  ClientListener(worker::Context& worker, tunnel::Admission& admission, PoolSet& pools, net::Fd listener,
                 address::HostPort target);
  // A reload named another target for this listener: its next connections go there.
  void set_target(address::HostPort target) { target_ = std::move(target); }

 private:
  void on_accept(net::Fd fd, const sockaddr_storage& peer);

  worker::Context& worker_;
  tunnel::Admission& admission_;
  PoolSet& pools_;
  Upstream upstream_;
  address::HostPort target_;
  net::Acceptor acceptor_;
};

// Admits a local connection under limits.max_tunnels; when refused, counts it, resets
// the connection (the application sees a reset and may retry elsewhere) and returns an
// empty ticket.
tunnel::Admission::Ticket admit_local(worker::Context& worker, tunnel::Admission& admission, net::Fd& fd,
                                      const std::string& source);

}  // namespace hbone::client
