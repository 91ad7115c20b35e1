#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "net/event_loop.h"
#include "net/fd.h"
#include "net/host_port.h"
#include "net/poll_watcher.h"
#include "net/timer.h"

namespace hbone::net {

// Non-blocking TCP connect to host:port, resolving names off-loop (uv_getaddrinfo), with
// one deadline for resolution and connect together. Destroying it cancels the attempt.
enum class DialFailure { none, refused, unreachable, timeout, resolve, forbidden, other };

// At namespace scope, not nested: clang 14 cannot default-construct a nested class with
// member initializers inside its enclosing class (std::optional<Result>::emplace()).
struct DialResult {
  DialFailure failure = DialFailure::none;
  std::string detail;
  Fd fd;
  sockaddr_storage address{};
};

class Dialer final : public PollWatcher::Handler, public Retirable {
 public:
  using Failure = DialFailure;
  using Result = DialResult;
  using AddressCheck = std::function<bool(const sockaddr*)>;
  using OnDone = std::function<void(Result)>;

  // `allow` (may be empty) vets the resolved address before connecting.
  Dialer(EventLoop& loop, HostPort target, std::chrono::milliseconds timeout, AddressCheck allow,
         OnDone done);
  ~Dialer() override;

  void on_io(int status, int events) override;

 private:
  struct Resolve;
  void connect_to(const sockaddr* addr, socklen_t len);
  void finish(Failure failure, std::string detail);
  void deliver();
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res);

  EventLoop& loop_;
  HostPort target_;
  AddressCheck allow_;
  OnDone done_;
  Timer deadline_;
  Fd fd_;
  sockaddr_storage address_{};
  std::optional<PollWatcher> poll_;
  uv_getaddrinfo_t* resolving_ = nullptr;  // owned by libuv until its callback
  std::optional<Result> result_;
  bool constructing_ = true;  // results found in the constructor are delivered from the loop
  bool delivered_ = false;
};

const char* to_string(DialFailure failure);

}  // namespace hbone::net
