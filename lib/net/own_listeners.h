#pragma once

#include <sys/socket.h>

#include <vector>

#include "address/host_port.h"
#include "net/host_addresses.h"

namespace hbone::net {

// The addresses this process listens on (gateway, client listeners, capture, admin,
// metrics), as bound, and the host addresses a wildcard listener among them is on. A gateway never dials them for a peer: a tunnel must not lead back
// into hbone, to its admin endpoint or round through its own listeners (ztunnel refuses
// its own ports the same way). A value: the daemon keeps the master copy, which a reload
// changes (client listeners), and hands each worker an immutable copy, swapped on the
// worker's loop, so a dial reads it without a lock.
class OwnListeners {
 public:
  void add(const address::HostPort& bound);
  void remove(const address::HostPort& bound);
  // The interfaces' addresses, read again whenever they change.
  void set_host(HostAddresses host) { host_ = std::move(host); }
  const HostAddresses& host() const { return host_; }
  // True when connecting to `addr` reaches one of them: its address and port, or the port
  // of a wildcard listener on any address of this host (unspecified and loopback included).
  bool reaches(const sockaddr* addr) const;

 private:
  // Whether `addr` (unmapped) is this host's: loopback, unspecified or an interface's.
  bool is_local(const sockaddr* addr) const;

  std::vector<sockaddr_storage> listeners_;
  HostAddresses host_;
};

}  // namespace hbone::net
