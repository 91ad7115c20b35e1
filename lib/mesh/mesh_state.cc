#include "mesh/mesh_state.h"

#include <nlohmann/json.hpp>

namespace hbone::mesh {
namespace {

using namespace policy::rbac;

nlohmann::json strings_json(const std::vector<StringMatch>& matches) {
  nlohmann::json out = nlohmann::json::array();
  for (const StringMatch& m : matches) {
    switch (m.kind) {
      case StringMatch::Kind::exact: out.push_back({{"exact", m.value}}); break;
      case StringMatch::Kind::prefix: out.push_back({{"prefix", m.value}}); break;
      case StringMatch::Kind::suffix: out.push_back({{"suffix", m.value}}); break;
      case StringMatch::Kind::presence: out.push_back({{"presence", true}}); break;
    }
  }
  return out;
}

nlohmann::json match_json(const Match& m) {
  nlohmann::json out = nlohmann::json::object();
  auto strings = [&](const char* name, const std::vector<StringMatch>& v) {
    if (!v.empty()) out[name] = strings_json(v);
  };
  auto accounts = [&](const char* name, const std::vector<ServiceAccountMatch>& v) {
    if (v.empty()) return;
    auto& list = out[name] = nlohmann::json::array();
    for (const auto& sa : v) list.push_back(sa.namespace_name + "/" + sa.service_account);
  };
  auto cidrs = [&](const char* name, const std::vector<address::Cidr>& v) {
    if (v.empty()) return;
    auto& list = out[name] = nlohmann::json::array();
    for (const auto& c : v) list.push_back(c.to_string());
  };
  auto ports = [&](const char* name, const std::vector<uint16_t>& v) {
    if (!v.empty()) out[name] = v;
  };
  strings("namespaces", m.namespaces);
  strings("notNamespaces", m.not_namespaces);
  accounts("serviceAccounts", m.service_accounts);
  accounts("notServiceAccounts", m.not_service_accounts);
  strings("principals", m.principals);
  strings("notPrincipals", m.not_principals);
  cidrs("sourceIps", m.source_ips);
  cidrs("notSourceIps", m.not_source_ips);
  cidrs("destinationIps", m.destination_ips);
  cidrs("notDestinationIps", m.not_destination_ips);
  ports("destinationPorts", m.destination_ports);
  ports("notDestinationPorts", m.not_destination_ports);
  return out;
}

nlohmann::json policy_json(const Policy& p) {
  static constexpr const char* kScopes[] = {"Global", "Namespace", "WorkloadSelector"};
  nlohmann::json rules = nlohmann::json::array();
  for (const Rule& rule : p.rules) {
    nlohmann::json& clauses = rules.emplace_back(nlohmann::json::array());
    for (const Clause& clause : rule.clauses) {
      nlohmann::json& matches = clauses.emplace_back(nlohmann::json::array());
      for (const Match& m : clause.matches) matches.push_back(match_json(m));
    }
  }
  return {{"name", p.name},
          {"namespace", p.namespace_name},
          {"scope", kScopes[static_cast<int>(p.scope)]},
          {"action", p.action == Action::allow ? "Allow" : "Deny"},
          {"dryRun", p.dry_run},
          {"rules", std::move(rules)}};
}

}  // namespace

MeshState::MeshState(Workloads workloads, Services services, Policies policies)
    : workloads_(std::move(workloads)), services_(std::move(services)), policies_(std::move(policies)) {
  for (const auto& [uid, workload] : workloads_) {
    for (const std::string& ip : workload->addresses) {
      workload_by_address_.emplace(address_key({workload->network, ip}), workload.get());
    }
    for (const auto& [service, ports] : workload->services) endpoints_[service].push_back(workload.get());
  }
  for (const auto& [key, service] : services_) {
    for (const NetworkAddress& vip : service->vips) service_by_vip_.emplace(address_key(vip), service.get());
  }
  for (const auto& [key, policy] : policies_) {
    if (policy->scope == Scope::global) scoped_[""].push_back(policy.get());
    if (policy->scope == Scope::namespace_wide) scoped_[policy->namespace_name].push_back(policy.get());
  }
}

std::vector<const policy::rbac::Policy*> MeshState::policies_for(const Workload& workload) const {
  std::vector<const Policy*> out;
  for (const std::string& scope : {std::string(), workload.namespace_name}) {
    if (auto it = scoped_.find(scope); it != scoped_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  for (const std::string& key : workload.authorization_policies) {
    if (auto it = policies_.find(key); it != policies_.end()) out.push_back(it->second.get());
  }
  return out;
}

const Workload* MeshState::workload_at(const NetworkAddress& address) const {
  auto it = workload_by_address_.find(address_key(address));
  return it == workload_by_address_.end() ? nullptr : it->second;
}

const Service* MeshState::service_at(const NetworkAddress& address) const {
  auto it = service_by_vip_.find(address_key(address));
  return it == service_by_vip_.end() ? nullptr : it->second;
}

const std::vector<const Workload*>& MeshState::endpoints(const std::string& service_key) const {
  static const std::vector<const Workload*> kNone;
  auto it = endpoints_.find(service_key);
  return it == endpoints_.end() ? kNone : it->second;
}

void MeshState::dump(nlohmann::json& out) const {
  nlohmann::json& workloads = out["workloads"] = nlohmann::json::array();
  for (const auto& [uid, workload] : workloads_) workloads.push_back(*workload);
  nlohmann::json& services = out["services"] = nlohmann::json::array();
  for (const auto& [key, service] : services_) services.push_back(*service);
  nlohmann::json& policies = out["policies"] = nlohmann::json::array();
  for (const auto& [key, policy] : policies_) policies.push_back(policy_json(*policy));
}

}  // namespace hbone::mesh
