#include "net/poll_watcher.h"

#include <stdexcept>
#include <string>

namespace hbone::net {

PollWatcher::PollWatcher(uv_loop_t* loop, int fd, Handler* handler) {
  int rc = uv_poll_init_socket(loop, poll_.get(), fd);
  if (rc != 0) throw std::runtime_error(std::string("uv_poll_init: ") + uv_strerror(rc));
  poll_.initialized();
  poll_.get()->data = handler;
}

void PollWatcher::watch(int events) {
  if (events == events_) return;
  events_ = events;
  if (events == 0) {
    uv_poll_stop(poll_.get());
    return;
  }
  uv_poll_start(poll_.get(), events, [](uv_poll_t* h, int status, int ev) {
    if (h->data) static_cast<Handler*>(h->data)->on_io(status, ev);
  });
}

}  // namespace hbone::net
