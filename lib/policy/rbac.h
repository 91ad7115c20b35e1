#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "address/cidr.h"
#include "policy/authorization.h"

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
  std::vector<StringMatch> namespaces{}, not_namespaces{};
  std::vector<ServiceAccountMatch> service_accounts{}, not_service_accounts{};
  std::vector<StringMatch> principals{}, not_principals{};
  std::vector<address::Cidr> source_ips{}, not_source_ips{};
  std::vector<address::Cidr> destination_ips{}, not_destination_ips{};
  std::vector<uint16_t> destination_ports{}, not_destination_ports{};
};

struct Clause {
  std::vector<Match> matches{};
};

struct Rule {
  std::vector<Clause> clauses{};
};

// Which workloads a policy applies to: every one in the mesh (istio-system's root
// namespace), every one of its namespace, or those whose Workload resource names it.
enum class Scope { global, namespace_wide, workload_selector };
enum class Action { allow, deny };

struct Policy {
  std::string name{};
  std::string namespace_name{};
  Scope scope = Scope::global;
  Action action = Action::allow;
  std::vector<Rule> rules{};
  bool dry_run = false;
  // "namespace/name": how workloads name it, the log and the access record.
  std::string key{};
};

// One connection to a workload as a policy sees it.
struct Connection {
  std::string_view source_identity;  // the peer's SPIFFE id; "" without one
  const sockaddr* source = nullptr;
  const sockaddr* destination = nullptr;  // the workload address and port dialled
};

// Whether `policy` matches `connection` (ztunnel's Authorization::matches): a policy with no
// rules matches nothing; an empty clause matches; a match that sets no field matches
// nothing; a principal is compared without its spiffe:// scheme.
bool matches(const Policy& policy, const Connection& connection);

// Istio's order over the policies that apply to the destination workload: a matching DENY
// denies; else, when there are ALLOW policies, one must match. Dry-run policies decide
// nothing. The decision's policy is a view into
// the policy's key.
Decision decide(std::span<const Policy* const> policies, const Connection& connection);

}  // namespace rbac
}  // namespace hbone::policy
