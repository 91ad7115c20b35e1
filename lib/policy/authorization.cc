#include "policy/authorization.h"

#include <algorithm>
#include <cctype>

namespace hbone::policy {
namespace {

bool equal(std::string_view a, std::string_view b, bool fold_case) {
  if (!fold_case) return a == b;
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool matches(std::string_view pattern, std::string_view value, bool fold_case = false) {
  if (pattern == "*") return !value.empty();
  if (pattern.starts_with('*')) {
    auto suffix = pattern.substr(1);
    return value.size() >= suffix.size() && equal(value.substr(value.size() - suffix.size()), suffix, fold_case);
  }
  if (pattern.ends_with('*')) {
    auto prefix = pattern.substr(0, pattern.size() - 1);
    return value.size() >= prefix.size() && equal(value.substr(0, prefix.size()), prefix, fold_case);
  }
  return equal(pattern, value, fold_case);
}

// Istio writes principals without the scheme ("cluster.local/ns/default/sa/sleep"); both
// spellings name the same identity.
std::string_view without_scheme(std::string_view id) {
  constexpr std::string_view kScheme = "spiffe://";
  return id.starts_with(kScheme) ? id.substr(kScheme.size()) : id;
}

// "<td>/ns/<namespace>/sa/<account>": the namespace segment, "" when there is none.
std::string_view namespace_of(std::string_view principal) {
  size_t at = principal.find("/ns/");
  if (at == std::string_view::npos) return {};
  auto rest = principal.substr(at + 4);
  return rest.substr(0, rest.find('/'));
}

template <typename T, typename F>
bool any_or_empty(const std::vector<T>& entries, F&& match) {
  return entries.empty() || std::any_of(entries.begin(), entries.end(), match);
}

bool in(const std::vector<address::Cidr>& blocks, const sockaddr* address) {
  return blocks.empty() || (address && std::any_of(blocks.begin(), blocks.end(),
                                                   [address](const auto& cidr) { return cidr.contains(address); }));
}

bool rule_matches(const Rule& rule, const Request& request) {
  auto principal = without_scheme(request.principal);
  auto ns = namespace_of(principal);
  return any_or_empty(rule.from.principals,
                      [&](const std::string& p) { return matches(without_scheme(p), principal); }) &&
         any_or_empty(rule.from.namespaces, [&](const std::string& n) { return matches(n, ns); }) &&
         in(rule.from.ip_blocks, request.peer) &&
         any_or_empty(rule.to.hosts, [&](const std::string& h) { return matches(h, request.host, true); }) &&
         in(rule.to.cidrs, request.destination) &&
         any_or_empty(rule.to.ports, [&](uint16_t port) { return port == request.port; });
}

bool policy_matches(const AuthorizationPolicy& policy, const Request& request) {
  return std::any_of(policy.rules.begin(), policy.rules.end(),
                     [&](const Rule& rule) { return rule_matches(rule, request); });
}

}  // namespace

Decision decide(std::span<const AuthorizationPolicy> policies, const Request& request) {
  for (const auto& policy : policies) {
    if (policy.deny && policy_matches(policy, request)) return {false, policy.name};
  }
  bool any_allow = false;
  for (const auto& policy : policies) {
    if (policy.deny) continue;
    any_allow = true;
    if (policy_matches(policy, request)) return {true, policy.name};
  }
  return any_allow ? Decision{false, kNoneMatched} : Decision{};
}

bool valid_pattern(std::string_view pattern) {
  if (pattern.empty()) return false;
  size_t stars = std::count(pattern.begin(), pattern.end(), '*');
  return stars == 0 || (stars == 1 && (pattern.front() == '*' || pattern.back() == '*'));
}

}  // namespace hbone::policy
