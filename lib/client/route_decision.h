#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address/route.h"
#include "client/upstream.h"
#include "mesh/mesh_state.h"

namespace hbone::client {

// Where a captured connection goes, decided from its original destination and either
// client.routes or the mesh istiod describes (no sockets, no state but a round-robin
// counter), as ztunnel's build_request decides: through a tunnel to `upstream`, straight to
// the destination (`direct`), or nowhere (`reject`, `why`).
struct RouteDecision {
  enum class Kind { tunnel, direct, reject };
  Kind kind = Kind::reject;
  Upstream upstream = {};  // tunnel: the gateway and the identity it must have
  // What the tunnel asks for or the direct relay dials, when not the original destination
  // (a service VIP becomes its endpoint's address and target port).
  std::optional<sockaddr_storage> target = std::nullopt;
  std::string describe = {};  // the route or the mesh path, for the access log and /debug/tunnels
  std::string why = {};       // reject: for the log
};

RouteDecision decide_route(const std::vector<address::Route>& routes, const sockaddr* destination);

// By the mesh (ztunnel's semantics), on this node's `network`: a service VIP:port picks one
// of its healthy endpoints (`round_robin` counts the picks) and maps the port to the
// endpoint's target port; a workload address is that workload. A workload that speaks HBONE
// is reached by CONNECT <ip>:<port> to <ip>:15008 and must hold its own SPIFFE id; on
// another network, through its network gateway (double HBONE); one that does not is dialled
// directly. A workload or service with a waypoint is refused (never gone around).
// nullopt: the destination is not in the mesh.
// With xds, what neither client.routes nor the mesh knows leaves as it came, untunnelled
// (ztunnel's passthrough).
RouteDecision passthrough();

std::optional<RouteDecision> decide_mesh(const mesh::MeshState& mesh, std::string_view network,
                                         const sockaddr* destination, uint64_t& round_robin);

}  // namespace hbone::client
