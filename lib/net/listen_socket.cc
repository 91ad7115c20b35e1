#include "net/listen_socket.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "address/reserved.h"
#include "net/descriptor_reserve.h"
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
  // [::] takes IPv4 too, whatever the namespace's net.ipv6.bindv6only says (OwnListeners
  // counts on it).
  int zero = 0;
  if (addr.ss_family == AF_INET6 && setsockopt(fd.get(), SOL_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0) {
    throw std::system_error(errno, std::generic_category(), "IPV6_V6ONLY");
  }
  if (options.transparent && !set_transparent(fd.get(), addr.ss_family)) {
    throw std::system_error(errno, std::generic_category(), "IP_TRANSPARENT");
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

namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(10);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);

AcceptFailure accept_failure(int err) {
  switch (err) {
    case EMFILE: return AcceptFailure::emfile;
    case ENFILE: return AcceptFailure::enfile;
    case ENOBUFS: return AcceptFailure::enobufs;
    case ENOMEM: return AcceptFailure::enomem;
    default: return AcceptFailure::other;
  }
}

}  // namespace

Acceptor::Acceptor(EventLoop& loop, Fd listener, OnAccept on_accept, OnError on_error)
    : fd_(std::move(listener)),
      address_(local_address(fd_.get()).to_string()),
      poll_(loop.uv(), fd_.get(), this),
      on_accept_(std::move(on_accept)),
      on_error_(std::move(on_error)),
      reserve_from_(DescriptorReserve::current().accept_below),
      resume_(loop.uv(), [this] { poll_.watch(UV_READABLE); }) {
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
      if (errno == EAGAIN) return;
      // That connection's own trouble (gone before accept, refused by a firewall rule).
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM) continue;
      back_off(errno);
      return;
    }
    Fd accepted(fd);
    if (fd >= reserve_from_) {
      close_with_reset(accepted);
      back_off(EMFILE);
      return;
    }
    backoff_ = std::chrono::milliseconds(0);
    // An IPv4 peer of a dual-stack [::] listener arrives as ::ffff:a.b.c.d: handed on as
    // the IPv4 address it is (logs, policies, the arrived-address rule see one form).
    on_accept_(std::move(accepted), address::unmapped(reinterpret_cast<const sockaddr*>(&peer)));
  }
}

void Acceptor::back_off(int err) {
  on_error_(accept_failure(err));
  poll_.watch(0);
  backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  resume_.start(backoff_);
  ++unlogged_;
  auto now = std::chrono::steady_clock::now();
  if (now - logged_ < std::chrono::seconds(1)) return;
  spdlog::warn("accept on {}: {} ({} time(s) since the last report); not accepting for {} ms, then again",
               address_, std::strerror(err), unlogged_, backoff_.count());
  logged_ = now;
  unlogged_ = 0;
}

}  // namespace hbone::net
