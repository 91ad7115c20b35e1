#include "policy/authorization.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "policy/principal.h"

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

// A host pattern as hosts are matched: "blocked.example." is "blocked.example".
std::string_view host_pattern(std::string_view pattern) {
  return pattern.size() > 1 && pattern.back() == '.' ? pattern.substr(0, pattern.size() - 1) : pattern;
}

template <typename T, typename F>
bool any_or_empty(const std::vector<T>& entries, F&& match) {
  return entries.empty() || std::any_of(entries.begin(), entries.end(), match);
}

bool in(const std::vector<address::Cidr>& blocks, const sockaddr* address) {
  return blocks.empty() || (address && std::any_of(blocks.begin(), blocks.end(),
                                                   [address](const auto& cidr) { return cidr.contains(address); }));
}

enum class Match { no, yes, depends_on_address };

// Every field but `cidrs`, then `cidrs` when the address is known.
Match rule_matches(const Rule& rule, const Request& request) {
  auto principal = without_scheme(request.principal);
  auto identity = workload_identity(principal);
  auto ns = identity ? identity->namespace_name : std::string_view{};
  bool rest = any_or_empty(rule.from.principals,
                           [&](const std::string& p) { return matches(without_scheme(p), principal); }) &&
              any_or_empty(rule.from.namespaces, [&](const std::string& n) { return matches(n, ns); }) &&
              in(rule.from.ip_blocks, request.peer) &&
              any_or_empty(rule.to.hosts, [&](const std::string& h) { return matches(host_pattern(h), request.host, true); }) &&
              any_or_empty(rule.to.ports, [&](uint16_t port) { return port == request.port; });
  if (!rest) return Match::no;
  if (rule.to.cidrs.empty()) return Match::yes;
  if (!request.destination) return Match::depends_on_address;
  return in(rule.to.cidrs, request.destination) ? Match::yes : Match::no;
}

Match policy_matches(const AuthorizationPolicy& policy, const Request& request) {
  Match out = Match::no;
  for (const Rule& rule : policy.rules) {
    Match m = rule_matches(rule, request);
    if (m == Match::yes) return m;
    if (m == Match::depends_on_address) out = m;
  }
  return out;
}

}  // namespace

Decision decide(std::span<const AuthorizationPolicy> policies, const Request& request) {
  for (const auto& policy : policies) {
    if (policy.deny && policy_matches(policy, request) == Match::yes) return {false, policy.name};
  }
  bool any_allow = false;
  for (const auto& policy : policies) {
    if (policy.deny) continue;
    any_allow = true;
    if (policy_matches(policy, request) == Match::yes) return {true, policy.name};
  }
  return any_allow ? Decision{false, kNoneMatched} : Decision{};
}

std::optional<Decision> deny_before_dial(std::span<const AuthorizationPolicy> policies, Request request) {
  request.destination = nullptr;
  for (const auto& policy : policies) {
    if (policy.deny && policy_matches(policy, request) == Match::yes) return Decision{false, policy.name};
  }
  bool any_allow = false;
  for (const auto& policy : policies) {
    if (policy.deny) continue;
    any_allow = true;
    if (policy_matches(policy, request) != Match::no) return std::nullopt;  // it may allow
  }
  if (any_allow) return Decision{false, kNoneMatched};
  return std::nullopt;
}

bool valid_pattern(std::string_view pattern) {
  if (pattern.empty()) return false;
  size_t stars = std::count(pattern.begin(), pattern.end(), '*');
  return stars == 0 || (stars == 1 && (pattern.front() == '*' || pattern.back() == '*'));
}

}  // namespace hbone::policy
