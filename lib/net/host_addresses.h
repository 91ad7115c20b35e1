#pragma once

#include <sys/socket.h>

#include <vector>

namespace hbone::net {

// The addresses of this network namespace's interfaces (a node's bridge holds its pod
// CIDR's .1, every host holds its own address): a tunnel to one of them reaches the host's
// own services (a kubelet, a node exporter), whatever allowed_destinations' ranges say. A
// value: the daemon reads it at start and again whenever the kernel announces an address
// change (AddressWatcher), and hands workers immutable copies.
class HostAddresses {
 public:
  HostAddresses() = default;
  explicit HostAddresses(std::vector<sockaddr_storage> addresses);
  // Throws std::system_error when the interfaces cannot be read.
  static HostAddresses read();

  // IPv4-mapped addresses are judged as the IPv4 address they carry.
  bool holds(const sockaddr* addr) const;
  size_t size() const { return addresses_.size(); }

 private:
  std::vector<sockaddr_storage> addresses_;  // IPv4 or IPv6, ports zero
};

}  // namespace hbone::net
