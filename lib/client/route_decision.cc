#include "client/route_decision.h"

#include <algorithm>

#include "net/socket_ops.h"

namespace hbone::client {
namespace {

// (Assigned member by member: GCC 12 at -O3 takes a designated-initializer temporary's
// strings for uninitialized in its unwinding path.)
RouteDecision refuse(std::string why) {
  RouteDecision decision;
  decision.why = std::move(why);
  return decision;
}

// The port `service_port` maps to on `workload` (its own list for the service, else the
// service's, else the same port), as ztunnel maps it.
uint16_t target_port(const mesh::Workload& workload, const mesh::Service* service, uint16_t service_port) {
  if (!service) return service_port;
  auto find = [service_port](const std::vector<mesh::Port>& ports) -> std::optional<uint16_t> {
    auto it = std::find_if(ports.begin(), ports.end(), [&](const mesh::Port& p) { return p.service_port == service_port; });
    if (it == ports.end()) return std::nullopt;
    return it->target_port ? it->target_port : service_port;
  };
  if (auto it = workload.services.find(service->key()); it != workload.services.end()) {
    if (auto port = find(it->second)) return *port;
  }
  return find(service->ports).value_or(service_port);
}

// Where to reach a workload: at the address dialled, when it was dialled itself; as a
// service's endpoint, at its first address of the service address's family (a dual-stack
// pod behind an IPv6 address is reached over IPv6), else its first.
const std::string& address_of(const mesh::Workload& workload, const mesh::Service* service,
                              const std::string& dialled) {
  if (!service) return dialled;
  auto v6 = [](const std::string& ip) { return ip.find(':') != std::string::npos; };
  for (const std::string& ip : workload.addresses) {
    if (v6(ip) == v6(dialled)) return ip;
  }
  return workload.addresses.front();
}

}  // namespace

RouteDecision decide_route(const std::vector<address::Route>& routes, const sockaddr* destination) {
  const address::Route* route = address::find_route(routes, destination);
  if (!route) return refuse("no route matches");
  if (route->via.kind == address::RouteVia::Kind::direct) {
    return {.kind = RouteDecision::Kind::direct, .describe = route->describe()};
  }
  Upstream upstream{route->via.gateway, route->identity, route->through, route->through_identity};
  if (route->via.kind == address::RouteVia::Kind::destination) {
    // ztunnel's node-to-node path: the destination's own address, on the HBONE port.
    upstream.address = net::host_port_of(destination);
    upstream.address.port = route->via.port;
  }
  return {.kind = RouteDecision::Kind::tunnel, .upstream = std::move(upstream), .describe = route->describe()};
}

RouteDecision passthrough() {
  RouteDecision decision;
  decision.kind = RouteDecision::Kind::direct;
  decision.describe = "passthrough";
  return decision;
}

std::optional<RouteDecision> decide_mesh(const mesh::MeshState& mesh, std::string_view network,
                                         const sockaddr* destination, uint64_t& round_robin) {
  address::HostPort original = net::host_port_of(destination);
  mesh::NetworkAddress at{std::string(network), original.host};
  const mesh::Service* service = mesh.service_at(at);
  const mesh::Workload* workload = nullptr;
  std::string path;
  if (service) {
    if (service->waypoint) {
      return refuse("service " + service->key() + " has waypoint " + service->waypoint->to_string() +
                    " (waypoints are not supported yet; never gone around)");
    }
    std::vector<const mesh::Workload*> healthy;
    for (const mesh::Workload* w : mesh.endpoints(service->key())) {
      if (w->healthy && !w->addresses.empty()) healthy.push_back(w);
    }
    if (healthy.empty()) return refuse("service " + service->key() + " has no healthy endpoint");
    workload = healthy[round_robin++ % healthy.size()];
    path = "mesh: service " + service->key() + " endpoint " + workload->uid;
  } else {
    workload = mesh.workload_at(at);
    if (!workload) return std::nullopt;
    path = "mesh: workload " + workload->uid;
  }
  if (workload->waypoint) {
    return refuse("workload " + workload->uid + " has waypoint " + workload->waypoint->to_string() +
                  " (waypoints are not supported yet; never gone around)");
  }
  address::HostPort target{address_of(*workload, service, original.host), target_port(*workload, service, original.port)};
  RouteDecision decision;
  decision.describe = std::move(path);
  decision.target.emplace();
  socklen_t length = 0;
  net::to_sockaddr(target, *decision.target, length);
  if (workload->protocol != mesh::TunnelProtocol::hbone) {
    decision.kind = RouteDecision::Kind::direct;
    decision.describe += " (plain TCP)";
    return decision;
  }
  decision.kind = RouteDecision::Kind::tunnel;
  decision.upstream.address.host = target.host;
  decision.upstream.address.port = address::RouteVia::kHbonePort;
  decision.upstream.identity = workload->identity();
  if (workload->network != network) {
    const auto& gateway = workload->network_gateway;
    if (!gateway || !gateway->address) {
      return refuse("workload " + workload->uid + " is on network \"" + workload->network +
                    "\" without a network gateway address");
    }
    // Double HBONE: the tunnel to the workload runs inside one to its network's gateway.
    const mesh::Workload* east_west = mesh.workload_at(*gateway->address);
    decision.upstream.through = address::HostPort{gateway->address->ip, gateway->hbone_port};
    decision.upstream.through_identity = east_west ? east_west->identity() : "";
    decision.describe += " through " + gateway->to_string();
  }
  return decision;
}

}  // namespace hbone::client
