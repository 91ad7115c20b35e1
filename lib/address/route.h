#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address/cidr.h"
#include "address/host_port.h"

namespace hbone::address {

// Where a client.routes entry sends a captured connection: through the gateway at
// host:port, through the HBONE port on the destination's own address (ztunnel's
// node-to-node path), or straight to the destination, untunnelled.
struct RouteVia {
  enum class Kind { gateway, destination, direct };
  static constexpr uint16_t kHbonePort = 15008;

  Kind kind = Kind::destination;
  HostPort gateway;             // Kind::gateway
  uint16_t port = kHbonePort;   // Kind::destination

  // "host:port", "destination:PORT" or "direct"; nullopt with `why` otherwise.
  static std::optional<RouteVia> parse(std::string_view text, std::string* why);
  std::string to_string() const;
};

// One client.routes entry: which original destinations it takes and where they go.
struct Route {
  Cidr cidr;
  std::vector<uint16_t> ports;  // empty: every port
  RouteVia via;
  std::string identity;  // the gateway's expected SPIFFE id; empty: any in the trust domain
  // Double HBONE (another network): the tunnel to `via`'s gateway runs inside a tunnel
  // through this east-west gateway, which sees only ciphertext.
  std::optional<HostPort> through = {};
  std::string through_identity = {};  // the east-west gateway's expected SPIFFE id

  bool matches(const sockaddr* destination) const;
  // "CIDR[:ports] via VIA[ through HOST:PORT]": how the access log and /debug/tunnels name it.
  std::string describe() const;
};

// The first route matching `destination` (routes are ordered), or null.
const Route* find_route(const std::vector<Route>& routes, const sockaddr* destination);

}  // namespace hbone::address
