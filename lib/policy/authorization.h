#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "address/cidr.h"

namespace hbone::policy {

// One rule of an AuthorizationPolicy, Istio's L4 fields (what ztunnel enforces on a
// connection). Every non-empty field must match, by any one of its entries.
struct Rule {
  struct From {
    std::vector<std::string> principals;  // peer SPIFFE ids: exact, "*", "prefix*" or "*suffix"
    std::vector<std::string> namespaces;  // the /ns/<ns>/ of the peer's SPIFFE id, same patterns
    std::vector<address::Cidr> ip_blocks;  // the HBONE peer's address
  } from;
  struct To {
    std::vector<std::string> hosts;      // the CONNECT authority's host, before DNS (no case)
    std::vector<address::Cidr> cidrs;    // the address dialled
    std::vector<uint16_t> ports;         // the CONNECT authority's port
  } to;
};

// gateway.policies[]: a policy matches when one of its rules does; one without rules matches
// nothing (Istio's "allow-nothing"), a rule with no fields matches everything.
struct AuthorizationPolicy {
  std::string name;
  bool deny = false;  // action DENY; else ALLOW
  std::vector<Rule> rules;
};

// What a decision looks at: one CONNECT and one address it may dial.
struct Request {
  std::string_view principal;  // the peer's SPIFFE id ("" without TLS identities)
  const sockaddr* peer = nullptr;
  std::string_view host;  // canonical (address::HostPort::canonical): lower case, no trailing dot
  uint16_t port = 0;
  const sockaddr* destination = nullptr;  // null: not known yet (before DNS)
};

struct Decision {
  bool allowed = true;
  // The policy that decided: a DENY that matched, else the first ALLOW that matched, else
  // kNoneMatched when ALLOW policies exist and none matched; empty without policies.
  std::string_view policy;
};
inline constexpr std::string_view kNoneMatched = "none-matched";

// Istio's order: any matching DENY denies; then, if any ALLOW policy exists, one must match.
// A rule with `cidrs` does not match while the destination is unknown.
Decision decide(std::span<const AuthorizationPolicy> policies, const Request& request);

// The denial that holds whatever address the authority resolves to, taken before any DNS
// lookup (a denied name is never resolved: no query leaks, and no resolver failure hides
// the 403); nullopt when the address to be dialled can still change the verdict, which
// decide() then takes per address.
std::optional<Decision> deny_before_dial(std::span<const AuthorizationPolicy> policies, Request request);

// Whether `pattern` is a principal/namespace/host pattern: exact, "*", or one '*' at its start
// or its end.
bool valid_pattern(std::string_view pattern);

}  // namespace hbone::policy
