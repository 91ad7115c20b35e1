#pragma once

#include <sys/socket.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hbone::net {

// The local addresses of connections this process dialled recently, so that the capture
// listener can recognise its own connection coming back (capture rules that do not skip
// hbone's mark or uid) and refuse it instead of dialling again, forever. Process-wide:
// the dial and the captured accept may happen on different workers. Off (free) unless a
// capture listener enables it; entries expire after ten seconds.
class OwnConnections {
 public:
  static OwnConnections& instance();

  void enable() { enabled_ = true; }
  // Records the local address of a socket that has called connect().
  void add(int fd);
  // True (once) if `peer` is the local address of a connection we dialled.
  bool take(const sockaddr* peer);

 private:
  using Clock = std::chrono::steady_clock;
  void expire(Clock::time_point now);

  bool enabled_ = false;  // set before the workers start
  std::mutex mutex_;
  std::unordered_map<std::string, Clock::time_point> added_;
  std::deque<std::pair<Clock::time_point, std::string>> order_;
};

}  // namespace hbone::net
