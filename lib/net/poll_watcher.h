#pragma once

#include <uv.h>

#include "net/uv_handle.h"

namespace hbone::net {

// Readiness events of one fd, delivered to a handler; `events` is what is asked for,
// changed only when it differs (each change costs an epoll_ctl).
class PollWatcher {
 public:
  class Handler {
   public:
    virtual void on_io(int status, int events) = 0;

   protected:
    ~Handler() = default;
  };

  PollWatcher(uv_loop_t* loop, int fd, Handler* handler);
  void watch(int events);
  void want(int flag, bool on) { watch(on ? events_ | flag : events_ & ~flag); }
  int events() const { return events_; }

 private:
  UvHandle<uv_poll_t> poll_;
  int events_ = 0;
};

}  // namespace hbone::net
