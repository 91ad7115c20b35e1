#include "mesh/workload.h"

#include <nlohmann/json.hpp>

namespace hbone::mesh {

const char* to_string(TunnelProtocol protocol) {
  switch (protocol) {
    case TunnelProtocol::none: return "NONE";
    case TunnelProtocol::hbone: return "HBONE";
    case TunnelProtocol::legacy_istio_mtls: return "LEGACY_ISTIO_MTLS";
  }
  return "NONE";
}

std::string GatewayAddress::to_string() const {
  std::string where = address ? address->network + "/" + address->ip : service;
  return where + ":" + std::to_string(hbone_port);
}

std::string Workload::identity() const {
  return "spiffe://" + trust_domain + "/ns/" + namespace_name + "/sa/" + service_account;
}

namespace {

nlohmann::json ports_json(const std::vector<Port>& ports) {
  nlohmann::json out = nlohmann::json::object();
  for (const Port& p : ports) out[std::to_string(p.service_port)] = p.target_port ? p.target_port : p.service_port;
  return out;
}

}  // namespace

void to_json(nlohmann::json& out, const Workload& w) {
  out = {{"uid", w.uid},
         {"name", w.name},
         {"namespace", w.namespace_name},
         {"workloadIps", w.addresses},
         {"network", w.network},
         {"protocol", to_string(w.protocol)},
         {"trustDomain", w.trust_domain},
         {"serviceAccount", w.service_account},
         {"identity", w.identity()},
         {"node", w.node},
         {"clusterId", w.cluster_id},
         {"status", w.healthy ? "Healthy" : "Unhealthy"},
         {"authorizationPolicies", w.authorization_policies}};
  if (!w.hostname.empty()) out["hostname"] = w.hostname;
  if (!w.canonical_name.empty()) out["canonicalName"] = w.canonical_name;
  if (!w.workload_name.empty()) out["workloadName"] = w.workload_name;
  if (w.waypoint) out["waypoint"] = w.waypoint->to_string();
  if (w.network_gateway) out["networkGateway"] = w.network_gateway->to_string();
  nlohmann::json services = nlohmann::json::object();
  for (const auto& [key, ports] : w.services) services[key] = ports_json(ports);
  out["services"] = std::move(services);
}

void to_json(nlohmann::json& out, const Service& s) {
  nlohmann::json vips = nlohmann::json::array();
  for (const NetworkAddress& vip : s.vips) vips.push_back(vip.network + "/" + vip.ip);
  out = {{"name", s.name},         {"namespace", s.namespace_name}, {"hostname", s.hostname},
         {"vips", std::move(vips)}, {"ports", ports_json(s.ports)},  {"subjectAltNames", s.subject_alt_names}};
  if (s.waypoint) out["waypoint"] = s.waypoint->to_string();
}

}  // namespace hbone::mesh
