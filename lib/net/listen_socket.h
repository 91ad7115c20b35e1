#pragma once

#include <sys/socket.h>

#include <functional>
#include <optional>

#include "net/event_loop.h"
#include "net/fd.h"
#include "address/host_port.h"
#include "net/poll_watcher.h"

namespace hbone::net {

struct ListenOptions {
  // SO_REUSEPORT, so that each worker can own a socket on the same address and the kernel
  // spreads connections across them.
  bool reuse_port = true;
  // IP_TRANSPARENT (TPROXY: accepts connections addressed to any address; needs
  // CAP_NET_ADMIN).
  bool transparent = false;
  int backlog = 4096;
};

// A bound, listening, non-blocking socket. Throws std::system_error with the errno of the
// failing step.
Fd listen_on(const address::HostPort& address, ListenOptions options = {});
// The address the socket is bound to (resolves port 0).
address::HostPort local_address(int fd);

// Accepts connections from a listening socket on one loop.
class Acceptor final : public PollWatcher::Handler {
 public:
  using OnAccept = std::function<void(Fd fd, const sockaddr_storage& peer)>;
  Acceptor(EventLoop& loop, Fd listener, OnAccept on_accept);
  void on_io(int status, int events) override;

 private:
  Fd fd_;
  PollWatcher poll_;
  OnAccept on_accept_;
};

}  // namespace hbone::net
