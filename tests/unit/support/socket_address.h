#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "address/host_port.h"
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

}  // namespace hbone::test
