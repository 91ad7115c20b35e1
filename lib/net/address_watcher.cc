#include "net/address_watcher.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace hbone::net {

Fd AddressWatcher::open_socket() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  if (!fd) throw std::system_error(errno, std::generic_category(), "netlink socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    throw std::system_error(errno, std::generic_category(), "netlink bind");
  }
  return fd;
}

AddressWatcher::AddressWatcher(uv_loop_t* loop, std::function<void()> on_change)
    : socket_(open_socket()), poll_(loop, socket_.get(), this), on_change_(std::move(on_change)) {
  poll_.watch(UV_READABLE);
}

void AddressWatcher::on_io(int, int) {
  char buf[8192];
  bool changed = false;
  for (;;) {
    ssize_t n = ::recv(socket_.get(), buf, sizeof buf, 0);
    if (n > 0 || (n < 0 && errno == ENOBUFS)) {  // ENOBUFS: messages were lost, so something changed
      changed = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EAGAIN: drained
  }
  if (changed) on_change_();
}

}  // namespace hbone::net
