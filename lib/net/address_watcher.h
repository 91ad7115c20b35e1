#pragma once

#include <uv.h>

#include <functional>

#include "net/fd.h"
#include "net/io_handler.h"
#include "net/poll_watcher.h"

namespace hbone::net {

// Calls `on_change` when an address of this network namespace is added or removed: a
// NETLINK_ROUTE socket joined to the IPv4 and IPv6 address groups. The messages are only
// a signal (a burst is drained in one call, an overflow reported as ENOBUFS counts as a
// change): whoever is called reads the addresses whole again.
class AddressWatcher final : public IoHandler {
 public:
  // Throws std::system_error when the netlink socket cannot be opened.
  AddressWatcher(uv_loop_t* loop, std::function<void()> on_change);
  AddressWatcher(const AddressWatcher&) = delete;
  AddressWatcher& operator=(const AddressWatcher&) = delete;

  void on_io(int status, int events) override;

 private:
  static Fd open_socket();

  Fd socket_;
  PollWatcher poll_;
  std::function<void()> on_change_;
};

}  // namespace hbone::net
