#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "address/host_port.h"
#include "net/fd.h"
#include "net/socket_ops.h"

namespace hbone::test {

// The socket address of an "ip:port" literal.
inline sockaddr_storage socket_address(const char* hostport) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  EXPECT_TRUE(net::to_sockaddr(*address::parse_host_port(hostport), ss, len)) << hostport;
  return ss;
}

inline const sockaddr* sa(const sockaddr_storage& ss) { return reinterpret_cast<const sockaddr*>(&ss); }

// The address a socket is bound to: a listener's, to connect to it.
inline sockaddr_storage bound_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  return ss;
}

// A blocking TCP socket connected to `addr`.
inline net::Fd connect_to(const sockaddr_storage& addr) {
  net::Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t len = addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  EXPECT_EQ(::connect(fd.get(), sa(addr), len), 0);
  return fd;
}

}  // namespace hbone::test
