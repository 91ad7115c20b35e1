#include "client/route_decision.h"

#include "net/socket_ops.h"

namespace hbone::client {

RouteDecision decide_route(const std::vector<address::Route>& routes, const sockaddr* destination) {
  const address::Route* route = address::find_route(routes, destination);
  if (!route) return {};
  if (route->via.kind == address::RouteVia::Kind::direct) return {RouteDecision::Kind::direct, route, {}};
  Upstream upstream{route->via.gateway, route->identity, route->through, route->through_identity};
  if (route->via.kind == address::RouteVia::Kind::destination) {
    // ztunnel's node-to-node path: the destination's own address, on the HBONE port.
    upstream.address = net::host_port_of(destination);
    upstream.address.port = route->via.port;
  }
  return {RouteDecision::Kind::tunnel, route, std::move(upstream)};
}

}  // namespace hbone::client
