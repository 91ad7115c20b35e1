#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/failures.h"
#include "net/event_loop.h"
#include "net/fd.h"
#include "address/host_port.h"
#include "net/edge_poller.h"
#include "net/timer.h"

namespace hbone::net {

// Non-blocking TCP connect to host:port, resolving names off-loop (uv_getaddrinfo), with
// one deadline for resolution and connect together. Every resolved address is tried in
// turn until one connects (a name with an unreachable first address still works).
// Destroying it cancels the attempt.

// At namespace scope, not nested: clang 14 cannot default-construct a nested class with
// member initializers inside its enclosing class (std::optional<Result>::emplace()).
struct DialResult {
  DialFailure failure = DialFailure::none;
  std::string detail;
  Fd fd;
  // fd's registration in the loop's edge set, when the connect had to wait: whoever
  // watches the socket next takes it over (EdgeWatcher::set_handler), or drops it.
  std::optional<EdgeWatcher> watcher = {};
  sockaddr_storage address{};
};

// Where a dial's sockets come from when not from socket() on the dialling thread: a pod's
// network namespace (inpod::NetnsThread makes them there). `made` runs later, on the
// dialer's loop, with the socket (non-blocking) or an invalid one and the errno.
using SocketMade = std::function<void(Fd fd, int error)>;
using SocketSource = std::function<void(int family, SocketMade made)>;

// Per dial: one deadline for resolution and connect together, and the SO_MARK to set (0: none).
struct DialOptions {
  std::chrono::milliseconds timeout;
  uint32_t mark = 0;
  // A socket numbered this or higher fails the dial (DescriptorReserve::dial_below).
  int descriptors_below = std::numeric_limits<int>::max();
  SocketSource sockets = {};  // empty: socket() here
  // A peer to dial from (the app then sees its address): bound to its IP with
  // IP_TRANSPARENT (not an address of ours: needs CAP_NET_ADMIN, and rules that deliver the
  // replies), never from its port, so that a dial toward the port it reached repeats no
  // tuple of its own (conntrack would take the new connection for that one). Used when
  // the candidate is of its family.
  std::optional<sockaddr_storage> from = {};
};

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// A unix socket's address (a local agent's: the CNI agent, a SPIFFE agent); nullopt when
// `path` is longer than a socket's name may be.
std::optional<SocketAddress> unix_address(std::string_view path);

class Dialer final : public IoHandler, public Retirable {
 public:
  using Failure = DialFailure;
  using Result = DialResult;
  // Empty when the address may be dialled, else why not (the result's detail).
  using AddressCheck = std::function<std::string(const sockaddr*)>;
  using OnDone = std::function<void(Result)>;

  // `allow` (may be empty) vets each resolved address before connecting to it.
  Dialer(EventLoop& loop, address::HostPort target, DialOptions options, AddressCheck allow, OnDone done);
  // Tries `candidates` in order (addresses resolved elsewhere).
  Dialer(EventLoop& loop, std::vector<SocketAddress> candidates, DialOptions options, AddressCheck allow,
         OnDone done);
  ~Dialer() override;

  void on_io(int status, int events) override;

 private:
  Dialer(EventLoop& loop, DialOptions options, AddressCheck allow, OnDone done);
  void resolve(const address::HostPort& target);
  // Connects to the next candidate that is allowed; finishes once none is left.
  void try_next();
  // Connects the socket made for the candidate being tried (`error`: socket()'s errno when
  // there is none); false when that attempt failed at once.
  bool connect_with(Fd fd, int error);
  // Outcome of one candidate: success finishes, a failure moves on to the next.
  void attempt_failed(Failure failure, std::string detail);
  void finish(Failure failure, std::string detail);
  void deliver();
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res);

  EventLoop& loop_;
  uint32_t mark_;
  int descriptors_below_;
  SocketSource sockets_;
  std::optional<sockaddr_storage> from_;
  bool from_port_retried_ = false;
  // Held while it lives: a socket made elsewhere that arrives after it is gone is closed.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
  AddressCheck allow_;
  OnDone done_;
  Timer deadline_;
  Fd fd_;
  std::vector<SocketAddress> candidates_;
  size_t next_ = 0;
  sockaddr_storage address_{};  // the candidate being (or last) tried
  Failure last_failure_ = Failure::resolve;
  std::string last_detail_ = "no address";
  std::optional<EdgeWatcher> poll_;
  uv_getaddrinfo_t* resolving_ = nullptr;  // owned by libuv until its callback
  std::optional<Result> result_;
  bool constructing_ = true;  // results found in the constructor are delivered from the loop
  bool delivered_ = false;
};

const char* to_string(DialFailure failure);

}  // namespace hbone::net
