#pragma once

#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/workload.h"
#include "policy/rbac.h"

namespace hbone::mesh {

// Everything istiod said about the mesh at one moment: workloads, services and
// authorization policies by resource name, with the lookups the data path needs. Immutable
// once built; a push makes a new one that shares the unchanged entries with the last.
class MeshState {
 public:
  template <typename T>
  using ByName = std::map<std::string, std::shared_ptr<const T>>;
  using Workloads = ByName<Workload>;
  using Services = ByName<Service>;
  using Policies = ByName<policy::rbac::Policy>;

  MeshState() = default;
  MeshState(Workloads workloads, Services services, Policies policies);

  const Workloads& workloads() const { return workloads_; }
  const Services& services() const { return services_; }
  const Policies& policies() const { return policies_; }

  // The workload or service VIP at `address` (null: not in the mesh).
  const Workload* workload_at(const NetworkAddress& address) const;
  const Service* service_at(const NetworkAddress& address) const;
  // The workloads that list `service_key` among their services, by uid.
  const std::vector<const Workload*>& endpoints(const std::string& service_key) const;

  // The policies that apply to `workload`, as ztunnel's assert_rbac gathers them: the
  // global ones, those of its namespace, and those it names (a name not known yet is
  // skipped: istiod may send the policy after the workload).
  std::vector<const policy::rbac::Policy*> policies_for(const Workload& workload) const;
  bool has_policies() const { return !policies_.empty(); }

  // workloads, services, policies: /config_dump's part of the mesh.
  void dump(nlohmann::json& out) const;

 private:
  static std::string address_key(const NetworkAddress& a) { return a.network + "/" + a.ip; }

  Workloads workloads_;
  Services services_;
  Policies policies_;
  std::unordered_map<std::string, const Workload*> workload_by_address_;
  std::unordered_map<std::string, const Service*> service_by_vip_;
  std::unordered_map<std::string, std::vector<const Workload*>> endpoints_;
  // Global policies under "", namespace-wide ones under their namespace.
  std::unordered_map<std::string, std::vector<const policy::rbac::Policy*>> scoped_;
};

}  // namespace hbone::mesh
