#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hbone::mesh {

// The mesh as istiod describes it to a node proxy (istio.workload.Address resources), in
// hbone's own terms: addresses as text, defaults filled in, checked when received.

// An IP address on a network: addresses repeat across networks, so both name it.
struct NetworkAddress {
  std::string network;
  std::string ip;  // canonical text (inet_ntop)
  bool operator==(const NetworkAddress&) const = default;
};

// How a service port maps onto the workload's port (target 0 in the resource: the same).
struct Port {
  uint16_t service_port = 0;
  uint16_t target_port = 0;
  bool operator==(const Port&) const = default;
};

// A network gateway or a waypoint: an address, or a service named by "namespace/hostname",
// reached by HBONE on `hbone_port`.
struct GatewayAddress {
  std::optional<NetworkAddress> address;
  std::string service;  // "namespace/hostname", when not an address
  uint16_t hbone_port = 15008;
  std::string to_string() const;
  bool operator==(const GatewayAddress&) const = default;
};

enum class TunnelProtocol { none, hbone, legacy_istio_mtls };
const char* to_string(TunnelProtocol protocol);

struct Workload {
  std::string uid;  // its resource name
  std::string name;
  std::string namespace_name;
  std::vector<std::string> addresses;  // IPs on `network`; none for a workload known by hostname only
  std::string hostname;
  std::string network;
  TunnelProtocol protocol = TunnelProtocol::none;
  std::string trust_domain = "cluster.local";
  std::string service_account = "default";
  std::optional<GatewayAddress> waypoint;
  std::optional<GatewayAddress> network_gateway;
  std::string node;
  std::string canonical_name;
  std::string workload_name;
  std::string cluster_id;
  bool healthy = true;
  // The services it is an endpoint of ("namespace/hostname"), with their port maps.
  std::map<std::string, std::vector<Port>> services;
  std::vector<std::string> authorization_policies;  // "namespace/name" of those selecting it

  // spiffe://<trust domain>/ns/<namespace>/sa/<service account>: what its certificate holds.
  std::string identity() const;
  bool operator==(const Workload&) const = default;
};

struct Service {
  std::string name;
  std::string namespace_name;
  std::string hostname;
  std::vector<NetworkAddress> vips;
  std::vector<Port> ports;
  std::vector<std::string> subject_alt_names;
  std::optional<GatewayAddress> waypoint;

  // Its resource name, and the key workloads list it by: "namespace/hostname".
  std::string key() const { return namespace_name + "/" + hostname; }
  bool operator==(const Service&) const = default;
};

// /config_dump's shapes, close to ztunnel's config_dump.
void to_json(nlohmann::json& out, const Workload& workload);
void to_json(nlohmann::json& out, const Service& service);

}  // namespace hbone::mesh
