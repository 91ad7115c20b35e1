#include "gateway/admit.h"

#include <utility>

#include "address/reserved.h"
#include "net/socket_ops.h"

namespace hbone::gateway {

namespace {

// `v` refused. (Build `reason` first: it may read `v`, which an argument moves from.)
Verdict refused(Verdict v, int status, std::string reason, DestinationRefusal refusal = DestinationRefusal::none) {
  v.status = status;
  v.reason = std::move(reason);
  v.refusal = refusal;
  return v;
}

policy::Request policy_request(const Peer& peer, const address::HostPort& named, const sockaddr* address) {
  return {peer.identity, peer.address, named.host, named.port, address};
}

// Whether `target` is the address the connection arrived on. Ports differ (the connection
// came to 15008, the target is the application's port); IPv4-mapped addresses (a [::]
// listener) compare as IPv4; a name never matches.
bool arrived_at(const address::HostPort& target, const sockaddr* arrived) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!net::to_sockaddr(target, addr, len)) return false;
  sockaddr_storage here = address::unmapped(arrived);
  sockaddr_storage there = address::unmapped(reinterpret_cast<const sockaddr*>(&addr));
  return net::host_port_of(reinterpret_cast<const sockaddr*>(&here)).host ==
         net::host_port_of(reinterpret_cast<const sockaddr*>(&there)).host;
}

}  // namespace

Verdict admit_request(const Connect& request, const Peer& peer, const Rules& rules) {
  // nghttp2 already reset malformed CONNECTs (RFC 9113 §8.5: :scheme/:path present or
  // :authority missing) with PROTOCOL_ERROR; what reaches here is well-formed HTTP/2.
  if (request.header_bytes > rules.max_header_list_size) {
    // A stream-level answer (RFC 6585): the connection and its other tunnels go on.
    return refused({}, 431, "request headers of " + std::to_string(request.header_bytes) +
                                " bytes exceed max_header_list_size");
  }
  if (request.method != "CONNECT") return refused({}, 405, "method " + std::string(request.method) + " is not CONNECT");
  std::string why;
  auto target = address::parse_host_port(request.authority, &why);
  if (!target) return refused({}, 400, "bad authority \"" + std::string(request.authority) + "\": " + why);
  Verdict v;
  v.named = target->canonical();
  v.target = std::move(*target);
  if (rules.require_arrived_address && !arrived_at(v.target, peer.arrived)) {
    std::string reason = "target " + v.named.to_string() + " is not the address this connection arrived on (" +
                         net::format_address(peer.arrived) + ")";
    return refused(std::move(v), 400, std::move(reason), DestinationRefusal::not_arrived);
  }
  const tunnel::PeerPolicy& snapshot = rules.snapshot;
  if (!snapshot.allows_identity(peer.identity)) {
    return refused(std::move(v), 403, "identity " + peer.identity + " not allowed");
  }
  const address::DestinationPolicy& destinations = snapshot.destinations;
  if (!destinations.allows_any() && !destinations.allows_authority(v.named) && !destinations.checks_addresses()) {
    std::string reason = "destination " + v.named.to_string() + " not allowed";
    return refused(std::move(v), 403, std::move(reason), DestinationRefusal::not_allowed);
  }
  // gateway.policies' verdict where the address cannot change it: before any DNS lookup.
  if (auto denial = policy::deny_before_dial(snapshot.authorization, policy_request(peer, v.named, nullptr))) {
    v.decision = *denial;
    return refused(std::move(v), 403, "denied: policy=" + std::string(denial->policy));
  }
  return v;
}

Verdict admit_address(const address::HostPort& named, const sockaddr* address, const Peer& peer, const Rules& rules) {
  const tunnel::PeerPolicy& snapshot = rules.snapshot;
  if (!snapshot.allows_identity(peer.identity)) return refused({}, 403, "identity " + peer.identity + " not allowed");
  // Every address is vetted, also with an empty allow-list (hbone's own listeners,
  // reserved and host addresses). A sidecar's or VM's inbound may dial the address it was
  // reached on: its host is the workload it serves.
  const sockaddr* workload = rules.require_arrived_address && !rules.transparent ? peer.arrived : nullptr;
  bool listed = snapshot.destinations.allows_authority(named);
  std::string why;
  DestinationRefusal refusal = DestinationGuard{snapshot.destinations, rules.own, listed, workload}.check(address, why);
  if (refusal != DestinationRefusal::none) return refused({}, 403, std::move(why), refusal);
  Verdict v;
  v.decision = decide(snapshot, peer, named, address);
  if (v.decision.allowed) return v;
  std::string reason = "denied: policy=" + std::string(v.decision.policy);
  return refused(std::move(v), 403, std::move(reason));
}

policy::Decision decide(const tunnel::PeerPolicy& snapshot, const Peer& peer, const address::HostPort& named,
                        const sockaddr* address) {
  sockaddr_storage plain = address::unmapped(address);
  const auto* dialled = reinterpret_cast<const sockaddr*>(&plain);
  policy::Decision decision;
  if (!snapshot.authorization.empty()) {
    decision = policy::decide(snapshot.authorization, policy_request(peer, named, dialled));
    if (!decision.allowed) return decision;
  }
  // Then istiod's: the Authorization resources that select the workload dialled.
  if (!snapshot.mesh->has_policies()) return decision;
  const mesh::Workload* workload = snapshot.mesh->workload_at({snapshot.network, net::host_port_of(dialled).host});
  if (!workload) return decision;
  std::vector<const policy::rbac::Policy*> policies = snapshot.mesh->policies_for(*workload);
  policy::Decision mesh = policy::rbac::decide(policies, {peer.identity, peer.address, dialled});
  return !mesh.allowed || decision.policy.empty() ? mesh : decision;
}

}  // namespace hbone::gateway
