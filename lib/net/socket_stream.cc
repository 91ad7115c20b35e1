#include "net/socket_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include "net/socket_ops.h"

namespace hbone::net {

SocketStream::SocketStream(EdgePoller& edges, Fd fd, std::optional<EdgeWatcher> dialled)
    : edges_(edges), fd_(std::move(fd)), poll_(std::move(dialled)) {
  // Until attach(), a dial's registration must call no one (its dialer is gone).
  if (poll_) poll_->watch(0);
}

SocketStream::~SocketStream() { close(false); }

void SocketStream::attach(IoHandler& handler) {
  if (!fd_) return;
  if (poll_) {
    poll_->set_handler(&handler);
  } else {
    poll_.emplace(edges_, fd_.get(), &handler);
  }
}

void SocketStream::detach() {
  if (poll_) poll_->watch(0);
}

void SocketStream::watch(int events) {
  if (poll_) poll_->watch(events);
}

ssize_t SocketStream::read(uint8_t* data, size_t size) {
  ssize_t n = ::read(fd_.get(), data, size);
  if (poll_) poll_->read_returned(n, size);
  return n;
}

ssize_t SocketStream::write(const iovec* parts, size_t count) {
  if (count == 1) {
    // send(): sendmsg() with one buffer cost the gateway ~10% more CPU per small request
    // (perf/syscalls.sh pingpong, perf/rps.sh at 10,000 req/s; perf/RESULTS.md, session 17).
    ssize_t n = ::send(fd_.get(), parts[0].iov_base, parts[0].iov_len, MSG_NOSIGNAL);
    if (poll_) poll_->write_returned(n, parts[0].iov_len);
    return n;
  }
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(parts);
  message.msg_iovlen = count;
  size_t asked = 0;
  for (size_t i = 0; i < count; ++i) asked += parts[i].iov_len;
  ssize_t n = ::sendmsg(fd_.get(), &message, MSG_NOSIGNAL);
  if (poll_) poll_->write_returned(n, asked);
  return n;
}

void SocketStream::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

int SocketStream::error() { return socket_error(fd_.get()); }

void SocketStream::close(bool reset) {
  if (fd_) close_watched(poll_, fd_, reset);
}

}  // namespace hbone::net
