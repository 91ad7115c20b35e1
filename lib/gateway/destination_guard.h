#pragma once

#include <sys/socket.h>

#include <string>

#include "address/destination_policy.h"
#include "gateway/gateway_stats.h"
#include "net/own_listeners.h"

namespace hbone::gateway {

// Whether the gateway may dial an address for a CONNECT, judged on the address actually
// dialled (after DNS, so a name cannot smuggle one in):
//  - never one of hbone's own listeners, whatever allowed_destinations says;
//  - loopback, link-local (cloud metadata), unspecified: only when allowed_destinations
//    names them (a CIDR inside their block, or the CONNECT authority as a host:port entry);
//  - an address of the host's own interfaces (a node's bridge holds its pod CIDR's .1):
//    only when allowed_destinations names that exact address (/32, /128 or the authority),
//    or when it is `workload`: the address a sidecar's or a VM's inbound gateway was
//    reached on, whose host is the workload it serves;
//  - anything else as allowed_destinations says (empty: any).
struct DestinationGuard {
  const address::DestinationPolicy& allowed;
  const net::OwnListeners& own;
  bool authority_listed;  // the CONNECT authority is a host:port entry of allowed_destinations
  // gateway.require_arrived_address on a listener that is not transparent: the address the
  // connection arrived on, which must be the target's (null otherwise).
  const sockaddr* workload = nullptr;

  // none, or why `addr` must not be dialled, with `why` in words for the log and the peer.
  DestinationRefusal check(const sockaddr* addr, std::string& why) const;
};

}  // namespace hbone::gateway
