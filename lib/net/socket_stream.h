#pragma once

#include <optional>

#include "net/byte_stream.h"
#include "net/edge_poller.h"
#include "net/fd.h"

namespace hbone::net {

// A connected non-blocking socket as a ByteStream, watched in the loop's edge set. Whoever
// makes it (the listener that accepted it, the code that dialled it) has set its options.
class SocketStream final : public ByteStream {
 public:
  // `dialled`: the registration its dial made (the socket keeps it: no epoll_ctl).
  SocketStream(EdgePoller& edges, Fd fd, std::optional<EdgeWatcher> dialled = std::nullopt);
  ~SocketStream() override;

  int fd() const { return fd_.get(); }

  void attach(IoHandler& handler) override;
  void detach() override;
  void watch(int events) override;
  int events() const override { return poll_ ? poll_->events() : 0; }
  ssize_t read(uint8_t* data, size_t size) override;
  ssize_t write(const iovec* parts, size_t count) override;
  using ByteStream::write;
  void shutdown_write() override;
  int error() override;
  void close(bool reset) override;

 private:
  EdgePoller& edges_;
  Fd fd_;
  std::optional<EdgeWatcher> poll_;
};

}  // namespace hbone::net
