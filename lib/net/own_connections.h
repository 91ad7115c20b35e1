#pragma once

#include <sys/socket.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hbone::net {

// The connections this process dialled recently, by local and remote address, so that the
// capture listener can recognise its own connection coming back (capture rules that do not
// skip hbone's mark or uid: the captured peer is our local address, its original
// destination our remote one) and refuse it instead of dialling again, forever. Both
// addresses, since the kernel gives a local port freed by one of our connections to an
// application's next connection elsewhere. Process-wide: the dial and the captured accept
// may happen on different workers. Off (free) unless a capture listener enables it;
// entries expire after ten seconds.
class OwnConnections {
 public:
  static OwnConnections& instance();

  void enable() { enabled_ = true; }
  // Records a socket that has called connect() to `remote`.
  void add(int fd, const sockaddr* remote);
  // True (once) if a connection from `peer` to `destination` is one we dialled.
  bool take(const sockaddr* peer, const sockaddr* destination);

 private:
  using Clock = std::chrono::steady_clock;
  void expire(Clock::time_point now);

  bool enabled_ = false;  // set before the workers start
  std::mutex mutex_;
  std::unordered_map<std::string, Clock::time_point> added_;
  std::deque<std::pair<Clock::time_point, std::string>> order_;
};

}  // namespace hbone::net
