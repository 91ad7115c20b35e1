#include "policy/rbac.h"

#include <netinet/in.h>

#include <algorithm>

#include "policy/principal.h"

namespace hbone::policy::rbac {
namespace {

bool string_matches(const StringMatch& m, std::string_view value) {
  switch (m.kind) {
    case StringMatch::Kind::exact: return value == m.value;
    case StringMatch::Kind::prefix: return value.starts_with(m.value);
    case StringMatch::Kind::suffix: return value.ends_with(m.value);
    case StringMatch::Kind::presence: return !value.empty();
  }
  return false;
}

uint16_t port_of(const sockaddr* address) {
  if (!address) return 0;
  if (address->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  if (address->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
  return 0;
}

// Any of `positive` (or none listed) and none of `negative`.
template <typename T, typename F>
bool field(const std::vector<T>& positive, const std::vector<T>& negative, F&& test) {
  return (positive.empty() || std::any_of(positive.begin(), positive.end(), test)) &&
         std::none_of(negative.begin(), negative.end(), test);
}

bool empty(const Match& m) {
  return m.namespaces.empty() && m.not_namespaces.empty() && m.service_accounts.empty() &&
         m.not_service_accounts.empty() && m.principals.empty() && m.not_principals.empty() &&
         m.source_ips.empty() && m.not_source_ips.empty() && m.destination_ips.empty() &&
         m.not_destination_ips.empty() && m.destination_ports.empty() && m.not_destination_ports.empty();
}

struct Source {
  std::string_view principal;  // without the scheme; "" without an identity
  std::optional<WorkloadIdentity> workload;
};

bool match_matches(const Match& m, const Source& source, const Connection& c) {
  auto in = [](const sockaddr* address) {
    return [address](const address::Cidr& cidr) { return address && cidr.contains(address); };
  };
  uint16_t port = port_of(c.destination);
  std::string_view ns = source.workload ? source.workload->namespace_name : std::string_view{};
  return field(m.destination_ips, m.not_destination_ips, in(c.destination)) &&
         field(m.source_ips, m.not_source_ips, in(c.source)) &&
         field(m.destination_ports, m.not_destination_ports, [port](uint16_t p) { return p == port; }) &&
         field(m.service_accounts, m.not_service_accounts,
               [&](const ServiceAccountMatch& sa) {
                 return source.workload && source.workload->namespace_name == sa.namespace_name &&
                        source.workload->service_account == sa.service_account;
               }) &&
         // Istio writes principals without the scheme, and a peer without a SPIFFE id has none.
         field(m.principals, m.not_principals,
               [&](const StringMatch& p) { return !source.principal.empty() && string_matches(p, source.principal); }) &&
         field(m.namespaces, m.not_namespaces, [&](const StringMatch& n) { return string_matches(n, ns); });
}

}  // namespace

bool matches(const Policy& policy, const Connection& c) {
  Source source;
  if (c.source_identity.starts_with("spiffe://")) {
    source.principal = without_scheme(c.source_identity);
    source.workload = workload_identity(source.principal);
  }
  return std::any_of(policy.rules.begin(), policy.rules.end(), [&](const Rule& rule) {
    return std::all_of(rule.clauses.begin(), rule.clauses.end(), [&](const Clause& clause) {
      return clause.matches.empty() || std::any_of(clause.matches.begin(), clause.matches.end(), [&](const Match& m) {
               return !empty(m) && match_matches(m, source, c);
             });
    });
  });
}

Decision decide(std::span<const Policy* const> policies, const Connection& c) {
  bool any_allow = false;
  for (const Policy* p : policies) {
    if (p->dry_run) continue;
    if (p->action == Action::deny && matches(*p, c)) return {false, p->key};
    any_allow |= p->action == Action::allow;
  }
  if (!any_allow) return {true, {}};
  for (const Policy* p : policies) {
    if (!p->dry_run && p->action == Action::allow && matches(*p, c)) return {true, p->key};
  }
  return {false, kNoneMatched};
}

}  // namespace hbone::policy::rbac
