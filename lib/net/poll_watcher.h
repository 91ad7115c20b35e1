#pragma once

#include <uv.h>

#include "net/io_handler.h"
#include "net/uv_handle.h"

namespace hbone::net {

// Readiness events of one fd, delivered to a handler; `events` is what is asked for,
// changed only when it differs: libuv deletes and re-adds the descriptor in epoll on every
// change (and probes it at init), so sockets that live and change interest often use
// EdgeWatcher instead.
class PollWatcher {
 public:
  using Handler = IoHandler;

  PollWatcher(uv_loop_t* loop, int fd, Handler* handler);
  void watch(int events);
  void want(int flag, bool on) { watch(on ? events_ | flag : events_ & ~flag); }
  int events() const { return events_; }

 private:
  UvHandle<uv_poll_t> poll_;
  int events_ = 0;
};

}  // namespace hbone::net
