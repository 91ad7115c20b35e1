#pragma once

#include <sys/socket.h>

#include <vector>

#include "address/route.h"
#include "client/upstream.h"

namespace hbone::client {

// Where a captured connection goes, decided from its original destination and
// client.routes alone (no sockets, no state), as ztunnel's build_request decides: through a
// tunnel to `upstream`, straight to the destination (`direct`), or nowhere (`reject`: no
// route matches).
struct RouteDecision {
  enum class Kind { tunnel, direct, reject };
  Kind kind = Kind::reject;
  const address::Route* route = nullptr;  // the route that matched (tunnel, direct)
  Upstream upstream;                      // tunnel: the gateway and the identity it must have
};

RouteDecision decide_route(const std::vector<address::Route>& routes, const sockaddr* destination);

}  // namespace hbone::client
