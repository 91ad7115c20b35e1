#pragma once

namespace hbone::net {

// What a socket watcher calls when its descriptor is ready: `events` holds UV_READABLE /
// UV_WRITABLE; `status` is negative when the socket has an error pending.
class IoHandler {
 public:
  virtual void on_io(int status, int events) = 0;

 protected:
  ~IoHandler() = default;
};

}  // namespace hbone::net
