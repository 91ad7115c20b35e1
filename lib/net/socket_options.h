#pragma once

#include <chrono>
#include <cstdint>

namespace hbone::net {

// What hbone sets on its sockets (the socket.* config keys of the same names).
struct SocketOptions {
  uint32_t send_buffer = 0;  // SO_SNDBUF; 0: kernel default
  uint32_t recv_buffer = 0;  // SO_RCVBUF
  // HBONE connections only: TCP_NOTSENT_LOWAT (0: off), TCP keepalive (time 0s: off) and
  // TCP_USER_TIMEOUT (0s: off).
  uint32_t notsent_lowat = 0;
  std::chrono::milliseconds keepalive_time{180'000};
  std::chrono::milliseconds keepalive_interval{180'000};
  uint32_t keepalive_probes = 9;
  std::chrono::milliseconds user_timeout{1'800'000};
};

}  // namespace hbone::net
