#include "policy/authorization.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/socket_address.h"

namespace hbone::policy {
namespace {

address::Cidr cidr(const char* text) { return *address::Cidr::parse(text); }

AuthorizationPolicy allow(std::string name, std::vector<Rule> rules) { return {std::move(name), false, std::move(rules)}; }
AuthorizationPolicy deny(std::string name, std::vector<Rule> rules) { return {std::move(name), true, std::move(rules)}; }

struct Case {
  const char* what;
  std::vector<AuthorizationPolicy> policies;
  const char* principal;
  const char* peer;
  const char* host;
  uint16_t port;
  const char* destination;
  bool allowed;
  std::string_view policy;
};

constexpr const char* kSleep = "spiffe://cluster.local/ns/default/sa/sleep";
constexpr const char* kPayments = "spiffe://cluster.local/ns/payments/sa/api";
constexpr const char* kOther = "spiffe://cluster.local/ns/default/sa/other";

Rule from_principals(std::vector<std::string> principals) {
  Rule rule;
  rule.from.principals = std::move(principals);
  return rule;
}

// Cases after Istio's AuthorizationPolicy reference and its L4 examples (istio.io,
// "Authorization Policy" and "Authorization policies for TCP traffic").
std::vector<Case> cases() {
  Rule payments_to_block;
  payments_to_block.from.namespaces = {"payments"};
  payments_to_block.to.cidrs = {cidr("198.18.1.0/24")};
  payments_to_block.to.ports = {443};
  Rule from_block;
  from_block.from.ip_blocks = {cidr("198.18.9.0/24")};
  Rule to_hosts;
  to_hosts.to.hosts = {"*.example.com", "api.internal"};
  Rule to_absolute;
  to_absolute.to.hosts = {"blocked.example."};
  Rule from_payments;
  from_payments.from.namespaces = {"payments"};
  Rule from_any_namespace;
  from_any_namespace.from.namespaces = {"*"};
  Rule prefix_principal = from_principals({"cluster.local/ns/default/*"});
  Rule sleep_on_two_ports = from_principals({"cluster.local/ns/default/sa/sleep"});
  sleep_on_two_ports.to.ports = {9000, 9001};
  return {
      {"no policy: allowed", {}, kSleep, "198.18.0.1:1", "a", 443, "198.18.1.1:443", true, ""},
      {"allow-nothing (ALLOW without rules) denies all", {allow("allow-nothing", {})}, kSleep, "198.18.0.1:1", "a",
       443, "198.18.1.1:443", false, kNoneMatched},
      {"allow-all (one empty rule)", {allow("allow-all", {Rule{}})}, kSleep, "198.18.0.1:1", "a", 443,
       "198.18.1.1:443", true, "allow-all"},
      {"deny-all (DENY with one empty rule)", {deny("deny-all", {Rule{}}), allow("allow-all", {Rule{}})}, kSleep,
       "198.18.0.1:1", "a", 443, "198.18.1.1:443", false, "deny-all"},
      {"DENY without rules denies nothing", {deny("deny-nothing", {})}, kSleep, "198.18.0.1:1", "a", 443,
       "198.18.1.1:443", true, ""},
      {"DENY before ALLOW", {allow("sleep", {from_principals({kSleep})}), deny("no-sleep", {from_principals({kSleep})})},
       kSleep, "198.18.0.1:1", "a", 443, "198.18.1.1:443", false, "no-sleep"},
      {"exact principal, with or without spiffe://", {allow("sleep", {from_principals({"cluster.local/ns/default/sa/sleep"})})},
       kSleep, "198.18.0.1:1", "a", 443, "198.18.1.1:443", true, "sleep"},
      {"another principal: none matched", {allow("sleep", {from_principals({kSleep})})}, kOther, "198.18.0.1:1", "a",
       443, "198.18.1.1:443", false, kNoneMatched},
      {"prefix principal", {allow("default", {prefix_principal})}, kOther, "198.18.0.1:1", "a", 443, "198.18.1.1:443",
       true, "default"},
      {"prefix principal, other namespace", {allow("default", {prefix_principal})}, kPayments, "198.18.0.1:1", "a", 443,
       "198.18.1.1:443", false, kNoneMatched},
      {"suffix principal", {allow("api", {from_principals({"*/sa/api"})})}, kPayments, "198.18.0.1:1", "a", 443,
       "198.18.1.1:443", true, "api"},
      {"* is any authenticated peer", {allow("any", {from_principals({"*"})})}, kOther, "198.18.0.1:1", "a", 443,
       "198.18.1.1:443", true, "any"},
      {"* needs an identity", {allow("any", {from_principals({"*"})})}, "", "198.18.0.1:1", "a", 443, "198.18.1.1:443",
       false, kNoneMatched},
      {"namespace + CIDR + port: all match", {allow("payments", {payments_to_block})}, kPayments, "198.18.0.1:1", "a",
       443, "198.18.1.7:443", true, "payments"},
      {"namespace + CIDR + port: other port", {allow("payments", {payments_to_block})}, kPayments, "198.18.0.1:1", "a",
       80, "198.18.1.7:80", false, kNoneMatched},
      {"namespace + CIDR + port: other CIDR", {allow("payments", {payments_to_block})}, kPayments, "198.18.0.1:1", "a",
       443, "198.18.2.7:443", false, kNoneMatched},
      {"namespace + CIDR + port: other namespace", {allow("payments", {payments_to_block})}, kSleep, "198.18.0.1:1",
       "a", 443, "198.18.1.7:443", false, kNoneMatched},
      {"ports: any entry", {allow("sleep", {sleep_on_two_ports})}, kSleep, "198.18.0.1:1", "a", 9001, "198.18.1.1:9001",
       true, "sleep"},
      {"ip_blocks: the peer's address", {deny("block", {from_block})}, kSleep, "198.18.9.4:1", "a", 443,
       "198.18.1.1:443", false, "block"},
      {"ip_blocks: another peer", {deny("block", {from_block})}, kSleep, "198.18.8.4:1", "a", 443, "198.18.1.1:443",
       true, ""},
      {"hosts: *.suffix, no case", {allow("hosts", {to_hosts})}, kSleep, "198.18.0.1:1", "WWW.Example.com", 443,
       "198.18.1.1:443", true, "hosts"},
      {"hosts: the bare domain is not *.domain", {allow("hosts", {to_hosts})}, kSleep, "198.18.0.1:1", "example.com",
       443, "198.18.1.1:443", false, kNoneMatched},
      {"hosts: exact", {allow("hosts", {to_hosts})}, kSleep, "198.18.0.1:1", "api.internal", 443, "198.18.1.1:443",
       true, "hosts"},
      {"one rule of several", {allow("two", {from_principals({kOther}), from_block})}, kSleep, "198.18.9.1:1", "a", 443,
       "198.18.1.1:443", true, "two"},
      {"the first ALLOW that matches names the decision",
       {allow("first", {from_principals({kSleep})}), allow("second", {Rule{}})}, kSleep, "198.18.0.1:1", "a", 443,
       "198.18.1.1:443", true, "first"},
      {"an IPv6 peer in an IPv4 block does not match", {deny("block", {from_block})}, kSleep, "[fd00::1]:1", "a", 443,
       "198.18.1.1:443", true, ""},
      {"hosts: a pattern written absolute (trailing dot) is the same name", {deny("abs", {to_absolute})}, kSleep,
       "198.18.0.1:1", "blocked.example", 443, "198.18.1.1:443", false, "abs"},
      // Namespaces only from "<td>/ns/<ns>/sa/<sa>": a /ns/ segment elsewhere in the path is none.
      {"namespaces: the Istio form", {allow("payments", {from_payments})}, kPayments, "198.18.0.1:1", "a", 443,
       "198.18.1.1:443", true, "payments"},
      {"namespaces: /ns/ after /sa/ is no namespace", {allow("payments", {from_payments})},
       "spiffe://cluster.local/sa/x/ns/payments", "198.18.0.1:1", "a", 443, "198.18.1.1:443", false, kNoneMatched},
      {"namespaces: extra segments are no Istio identity", {allow("payments", {from_payments})},
       "spiffe://cluster.local/ns/payments/sa/api/extra", "198.18.0.1:1", "a", 443, "198.18.1.1:443", false,
       kNoneMatched},
      {"namespaces: \"*\" needs one", {allow("any-ns", {from_any_namespace})}, "spiffe://cluster.local/workload",
       "198.18.0.1:1", "a", 443, "198.18.1.1:443", false, kNoneMatched},
      {"principals still match such an identity exactly", {allow("exact", {from_principals({"cluster.local/sa/x/ns/payments"})})},
       "spiffe://cluster.local/sa/x/ns/payments", "198.18.0.1:1", "a", 443, "198.18.1.1:443", true, "exact"},
  };
}

TEST(Authorization, IstioSemantics) {
  for (const auto& c : cases()) {
    auto peer = test::socket_address(c.peer);
    auto destination = test::socket_address(c.destination);
    Request request{c.principal, test::sa(peer), c.host, c.port, test::sa(destination)};
    Decision decision = decide(c.policies, request);
    EXPECT_EQ(decision.allowed, c.allowed) << c.what;
    EXPECT_EQ(decision.policy, c.policy) << c.what;
  }
}

TEST(Authorization, DenialsThatHoldForAnyAddressComeBeforeDns) {
  Rule to_hosts;
  to_hosts.to.hosts = {"blocked.example", "*.evil.example"};
  Rule to_block;
  to_block.to.cidrs = {cidr("198.18.1.0/24")};
  Rule hosts_and_block = to_hosts;
  hosts_and_block.to.cidrs = to_block.to.cidrs;
  auto peer = test::socket_address("198.18.0.1:1");
  // A decision names its policy by a view into `policies`: they outlive it here.
  auto before = [&](const std::vector<AuthorizationPolicy>& policies, const char* host) {
    return deny_before_dial(policies, {kSleep, test::sa(peer), host, 443, nullptr});
  };
  std::vector<AuthorizationPolicy> deny_hosts = {deny("hosts", {to_hosts})};
  auto denied = before(deny_hosts, "sub.evil.example");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->policy, "hosts");
  EXPECT_FALSE(before(deny_hosts, "good.example"));
  // A DENY that needs the address waits for it; so does an ALLOW that may still match.
  EXPECT_FALSE(before({deny("block", {to_block})}, "sub.evil.example"));
  EXPECT_FALSE(before({deny("both", {hosts_and_block})}, "blocked.example"));
  EXPECT_FALSE(before({allow("block", {to_block})}, "anything"));
  // No ALLOW can match whatever the address: none-matched at once.
  std::vector<AuthorizationPolicy> allow_hosts = {allow("hosts", {to_hosts})};
  auto none = before(allow_hosts, "good.example");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->policy, kNoneMatched);
  EXPECT_FALSE(before({}, "anything"));
}

TEST(Authorization, Patterns) {
  for (const char* good : {"*", "abc", "abc*", "*abc", "cluster.local/ns/default/*"}) EXPECT_TRUE(valid_pattern(good)) << good;
  for (const char* bad : {"", "a*b", "**", "*a*", "a**"}) EXPECT_FALSE(valid_pattern(bad)) << bad;
}

}  // namespace
}  // namespace hbone::policy
