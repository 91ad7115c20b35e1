#include "net/listen_socket.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "net/socket_ops.h"

namespace hbone::net {

Fd listen_on(const address::HostPort& address, ListenOptions options) {
  sockaddr_storage addr;
  socklen_t len = 0;
  if (!to_sockaddr(address, addr, len)) {
    throw std::system_error(EINVAL, std::generic_category(), "not an IP address");
  }
  Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw std::system_error(errno, std::generic_category(), "socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (options.reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
  }
  if (options.transparent) {
    bool v6 = addr.ss_family == AF_INET6;
    if (setsockopt(fd.get(), v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one, sizeof(one)) != 0) {
      throw std::system_error(errno, std::generic_category(), "IP_TRANSPARENT");
    }
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    throw std::system_error(errno, std::generic_category(), "bind");
  }
  if (::listen(fd.get(), options.backlog) != 0) {
    throw std::system_error(errno, std::generic_category(), "listen");
  }
  return fd;
}

address::HostPort local_address(int fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return host_port_of(reinterpret_cast<sockaddr*>(&addr));
}

Acceptor::Acceptor(EventLoop& loop, Fd listener, OnAccept on_accept)
    : fd_(std::move(listener)), poll_(loop.uv(), fd_.get(), this), on_accept_(std::move(on_accept)) {
  poll_.watch(UV_READABLE);
}

void Acceptor::on_io(int status, int) {
  if (status < 0) return;
  // Bounded batch: accept what is queued now, then let the loop serve the tunnels.
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    int fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      // Out of fds or memory: log, and try again on the next readiness event.
      spdlog::warn("accept: {}", std::strerror(errno));
      return;
    }
    on_accept_(Fd(fd), peer);
  }
}

}  // namespace hbone::net
