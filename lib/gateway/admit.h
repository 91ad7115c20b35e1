#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "address/host_port.h"
#include "gateway/destination_guard.h"
#include "net/own_listeners.h"
#include "policy/authorization.h"
#include "tunnel/peer_policy.h"

namespace hbone::gateway {

// The gateway's verdict on one CONNECT, as a value. Taken from the request alone when it
// arrives (before any DNS lookup: admit_request), then for every address its target
// resolves to, and once more for the address connected, under the snapshots in force when
// the dial completes (admit_address). The connection counts and answers what it says.
struct Verdict {
  int status = 200;  // 200: admitted so far
  std::string reason;  // why not, in words: the log and the access record (escaped there)
  DestinationRefusal refusal = DestinationRefusal::none;  // the destination rule that refused
  policy::Decision decision;  // gateway.policies' verdict (policy "" when none decided; a
                              // view into the snapshot, valid while it is)
  address::HostPort target;   // admit_request: the authority as sent (what is dialled)
  address::HostPort named;    // ... as matched, logged and counted (lower case, no trailing dot)

  bool admitted() const { return status == 200; }
};

// What a verdict reads besides the request: the snapshots in force and the gateway's
// startup settings.
struct Rules {
  const tunnel::PeerPolicy& snapshot;
  const net::OwnListeners& own;
  size_t max_header_list_size;   // http2.max_header_list_size
  bool require_arrived_address;  // gateway.require_arrived_address
  bool transparent;              // gateway.transparent
};

// The HBONE peer: its identity and address, and the address its connection arrived on.
struct Peer {
  const std::string& identity;
  const sockaddr* address;
  const sockaddr* arrived;
};

// The request as the connection decoded it.
struct Connect {
  std::string_view method;
  std::string_view authority;
  size_t header_bytes;  // RFC 9113 §6.5.2 accounting
};

// 431, 405, 400 (authority, not the arrived address), 403 (identity, allow-list, a policy
// that denies whatever the address), or 200 with the target.
Verdict admit_request(const Connect& request, const Peer& peer, const Rules& rules);

// For `address`, one the target `named` resolved to (or names): 403 (identity, hbone's own
// listeners, reserved and host addresses, the allow-list, a policy) or 200, with the
// policies' decision either way.
Verdict admit_address(const address::HostPort& named, const sockaddr* address, const Peer& peer, const Rules& rules);

// The policies on a tunnel to `address`: gateway.policies, then istiod's Authorization
// resources that select the workload at `address` on this node's network; both must allow,
// and the decision names the first policy that denies (else the one that allowed). Taken
// for each address dialled, and again on open tunnels when a snapshot changes them.
policy::Decision decide(const tunnel::PeerPolicy& snapshot, const Peer& peer, const address::HostPort& named,
                        const sockaddr* address);

}  // namespace hbone::gateway
