#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "address/cidr.h"

namespace hbone::policy {

// Istio's authorization policies as istiod pushes them to node proxies (the resource
// istio.security.Authorization, ztunnel's rbac.rs): a policy matches a connection when one of
// its rules does; a rule when all its clauses do; a clause when one of its matches does; a
// match when every field it sets matches (any entry of a positive field, no entry of a
// negated one).
namespace rbac {

struct StringMatch {
  enum class Kind { exact, prefix, suffix, presence };
  Kind kind = Kind::exact;
  std::string value;
};

struct ServiceAccountMatch {
  std::string namespace_name;
  std::string service_account;
};

struct Match {
  std::vector<StringMatch> namespaces, not_namespaces;
  std::vector<ServiceAccountMatch> service_accounts, not_service_accounts;
  std::vector<StringMatch> principals, not_principals;
  std::vector<address::Cidr> source_ips, not_source_ips;
  std::vector<address::Cidr> destination_ips, not_destination_ips;
  std::vector<uint16_t> destination_ports, not_destination_ports;
};

struct Clause {
  std::vector<Match> matches;
};

struct Rule {
  std::vector<Clause> clauses;
};

// Which workloads a policy applies to: every one in the mesh (istio-system's root
// namespace), every one of its namespace, or those whose Workload resource names it.
enum class Scope { global, namespace_wide, workload_selector };
enum class Action { allow, deny };

struct Policy {
  std::string name;
  std::string namespace_name;
  Scope scope = Scope::global;
  Action action = Action::allow;
  std::vector<Rule> rules;
  bool dry_run = false;
  // Its xDS resource name and the name workloads use for it: "namespace/name".
  std::string key() const { return namespace_name + "/" + name; }
};

}  // namespace rbac
}  // namespace hbone::policy
