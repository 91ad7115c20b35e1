#include "net/socket_ops.h"

#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "address/reserved.h"

// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which clash with
// the libc headers above.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace hbone::net {

void apply_socket_options(int fd, const SocketOptions& options) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (options.send_buffer) {
    int size = static_cast<int>(options.send_buffer);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }
  if (options.recv_buffer) {
    int size = static_cast<int>(options.recv_buffer);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
}

void apply_hbone_options(int fd, const SocketOptions& options) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  if (options.keepalive_time.count() > 0) {
    int on = 1;
    int idle = static_cast<int>(std::max<int64_t>(1, duration_cast<seconds>(options.keepalive_time).count()));
    int interval = static_cast<int>(std::max<int64_t>(1, duration_cast<seconds>(options.keepalive_interval).count()));
    int probes = static_cast<int>(options.keepalive_probes);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
  }
  if (options.user_timeout.count() > 0) {
    unsigned timeout = static_cast<unsigned>(options.user_timeout.count());
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
  }
  if (options.notsent_lowat > 0) {
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &options.notsent_lowat, sizeof(options.notsent_lowat));
  }
}

bool original_destination(int fd, bool transparent, sockaddr_storage& out) {
  out = {};
  socklen_t len = sizeof(out);
  auto* addr = reinterpret_cast<sockaddr*>(&out);
  if (::getsockname(fd, addr, &len) != 0) return false;
  bool v4 = out.ss_family == AF_INET ||
            IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6*>(&out)->sin6_addr);
  bool found = true;
  if (!transparent) {
    len = sizeof(out);
    found = v4 ? ::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, addr, &len) == 0
               : ::getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, addr, &len) == 0;
  }
  out = address::unmapped(addr);  // IPv4 on a dual-stack listener: as IPv4
  return found;
}

bool same_ip(const sockaddr* a, const sockaddr* b) {
  if (a->sa_family != b->sa_family) return false;
  if (a->sa_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(b)->sin_addr.s_addr;
  }
  return a->sa_family == AF_INET6 && std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                                                 &reinterpret_cast<const sockaddr_in6*>(b)->sin6_addr,
                                                 sizeof(in6_addr)) == 0;
}

bool set_transparent(int fd, int family) {
  int one = 1;
  bool v6 = family == AF_INET6;
  return ::setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one, sizeof(one)) == 0;
}

uint16_t port_of(const sockaddr* addr) {
  return ntohs(addr->sa_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(addr)->sin_port
                                          : reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port);
}

bool same_endpoint(const sockaddr* a, const sockaddr* b) {
  if (!same_ip(a, b)) return false;
  return a->sa_family == AF_INET
             ? reinterpret_cast<const sockaddr_in*>(a)->sin_port == reinterpret_cast<const sockaddr_in*>(b)->sin_port
             : reinterpret_cast<const sockaddr_in6*>(a)->sin6_port ==
                   reinterpret_cast<const sockaddr_in6*>(b)->sin6_port;
}

address::HostPort host_port_of(const sockaddr* addr) {
  return address::parse_host_port(format_address(addr), nullptr, /*allow_port_zero=*/true).value_or(address::HostPort{});
}

void close_with_reset(Fd& fd) {
  if (!fd) return;
  linger lg{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  fd.reset();
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

std::string format_address(const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
    return std::string(ip) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  if (addr->sa_family == AF_UNIX) return std::string("unix:") + reinterpret_cast<const sockaddr_un*>(addr)->sun_path;
  return "unknown";
}

bool to_sockaddr(const address::HostPort& hp, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof(out));
  auto* in = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET, hp.host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(hp.port);
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, hp.host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(hp.port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

}  // namespace hbone::net
