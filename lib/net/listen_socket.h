#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "net/event_loop.h"
#include "net/fd.h"
#include "address/host_port.h"
#include "net/poll_watcher.h"
#include "net/timer.h"
#include "net/failures.h"

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

// Accepts connections from a listening socket on one loop. Out of descriptors or kernel
// memory, accept() fails while the listener stays readable: rather than waking the loop
// again at once (a core spinning, as nginx avoids the same way), the listener is left
// unwatched for a back-off that doubles while the failures repeat (10 ms .. 1 s), then
// accepting resumes by itself. Failures are counted and logged at most once a second.
// A connection accepted into the descriptor reserve (net/descriptor_reserve.h) is reset at
// once and counts as EMFILE.
class Acceptor final : public PollWatcher::Handler {
 public:
  using OnAccept = std::function<void(Fd fd, const sockaddr_storage& peer)>;
  using OnError = std::function<void(AcceptFailure)>;
  Acceptor(EventLoop& loop, Fd listener, OnAccept on_accept, OnError on_error);
  void on_io(int status, int events) override;

 private:
  void back_off(int err);

  Fd fd_;
  std::string address_;  // for the log
  PollWatcher poll_;
  OnAccept on_accept_;
  OnError on_error_;
  int reserve_from_;  // the lowest descriptor of the reserve
  Timer resume_;
  std::chrono::milliseconds backoff_{0};
  uint64_t unlogged_ = 0;  // failures since the last log line
  std::chrono::steady_clock::time_point logged_{};
};

}  // namespace hbone::net
