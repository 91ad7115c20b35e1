// Istio's Authorization resources as ztunnel evaluates them (src/rbac.rs, state.rs
// assert_rbac): rules of clauses of matches, negated fields, scheme-less principals,
// dry-run, and the DENY-then-ALLOW order.

#include "policy/rbac.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace hbone::policy::rbac {
namespace {

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

struct Fixture {
  sockaddr_in source = v4("198.18.1.5", 40000);
  sockaddr_in destination = v4("198.18.2.7", 8080);
  Connection connection(std::string_view identity = "spiffe://cluster.local/ns/shop/sa/cart") const {
    return {identity, reinterpret_cast<const sockaddr*>(&source), reinterpret_cast<const sockaddr*>(&destination)};
  }
};

Policy policy(Action action, std::vector<Match> matches, std::string name = "p") {
  Policy p{.name = name, .namespace_name = "ns", .action = action, .key = "ns/" + name};
  p.rules.push_back({{Clause{std::move(matches)}}});
  return p;
}

StringMatch exact(std::string v) { return {StringMatch::Kind::exact, std::move(v)}; }

TEST(Rbac, EachFieldMatchesWhatItNames) {
  Fixture f;
  auto c = f.connection();
  EXPECT_TRUE(matches(policy(Action::allow, {{.principals = {exact("cluster.local/ns/shop/sa/cart")}}}), c));
  EXPECT_FALSE(matches(policy(Action::allow, {{.principals = {exact("spiffe://cluster.local/ns/shop/sa/cart")}}}), c));
  EXPECT_TRUE(matches(policy(Action::allow, {{.principals = {{StringMatch::Kind::suffix, "/sa/cart"}}}}), c));
  EXPECT_TRUE(matches(policy(Action::allow, {{.namespaces = {exact("shop")}}}), c));
  EXPECT_FALSE(matches(policy(Action::allow, {{.not_namespaces = {exact("shop")}}}), c));
  EXPECT_TRUE(matches(policy(Action::allow, {{.service_accounts = {{"shop", "cart"}}}}), c));
  EXPECT_FALSE(matches(policy(Action::allow, {{.service_accounts = {{"other", "cart"}}}}), c));
  EXPECT_TRUE(matches(policy(Action::allow, {{.source_ips = {*address::Cidr::parse("198.18.1.0/24")}}}), c));
  EXPECT_FALSE(matches(policy(Action::allow, {{.not_source_ips = {*address::Cidr::parse("198.18.0.0/15")}}}), c));
  EXPECT_TRUE(matches(policy(Action::allow, {{.destination_ips = {*address::Cidr::parse("198.18.2.7/32")}}}), c));
  EXPECT_TRUE(matches(policy(Action::allow, {{.destination_ports = {8080}}}), c));
  EXPECT_FALSE(matches(policy(Action::allow, {{.destination_ports = {80}}}), c));
  EXPECT_FALSE(matches(policy(Action::allow, {{.not_destination_ports = {8080}}}), c));
  // Every field set must match.
  EXPECT_FALSE(matches(policy(Action::allow, {{.namespaces = {exact("shop")}, .destination_ports = {80}}}), c));
}

TEST(Rbac, APeerWithoutAnIdentityHasNoPrincipalNorNamespace) {
  Fixture f;
  auto c = f.connection("");
  EXPECT_FALSE(matches(policy(Action::allow, {{.principals = {{StringMatch::Kind::presence, ""}}}}), c));
  EXPECT_TRUE(matches(policy(Action::allow, {{.not_principals = {{StringMatch::Kind::presence, ""}}}}), c));
  EXPECT_FALSE(matches(policy(Action::allow, {{.namespaces = {{StringMatch::Kind::presence, ""}}}}), c));
}

TEST(Rbac, RulesClausesAndMatchesCombineAsIstioSays) {
  Fixture f;
  auto c = f.connection();
  Policy p{.name = "p", .key = "ns/p"};
  EXPECT_FALSE(matches(p, c));  // no rules: nothing
  p.rules.push_back({});        // a rule without clauses: everything
  EXPECT_TRUE(matches(p, c));
  p.rules = {{{Clause{{Match{}}}}}};  // a match that sets nothing: nothing
  EXPECT_FALSE(matches(p, c));
  // Clauses AND, matches OR.
  p.rules = {{{Clause{{{.destination_ports = {80}}, {.destination_ports = {8080}}}},
               Clause{{{.namespaces = {exact("shop")}}}}}}};
  EXPECT_TRUE(matches(p, c));
  p.rules[0].clauses[1].matches[0].namespaces = {exact("other")};
  EXPECT_FALSE(matches(p, c));
  // Rules OR.
  p.rules.push_back({{Clause{{{.source_ips = {*address::Cidr::parse("198.18.1.5/32")}}}}}});
  EXPECT_TRUE(matches(p, c));
}

TEST(Rbac, DenyThenAllowAndDryRunDecidesNothing) {
  Fixture f;
  auto c = f.connection();
  Policy allow_other = policy(Action::allow, {{.namespaces = {exact("other")}}}, "allow-other");
  Policy allow_shop = policy(Action::allow, {{.namespaces = {exact("shop")}}}, "allow-shop");
  Policy deny_cart = policy(Action::deny, {{.service_accounts = {{"shop", "cart"}}}}, "deny-cart");
  EXPECT_TRUE(decide({}, c).allowed);
  std::vector<const Policy*> set = {&allow_other};
  Decision d = decide(set, c);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.policy, kNoneMatched);
  set.push_back(&allow_shop);
  EXPECT_EQ(decide(set, c).policy, "ns/allow-shop");
  set.push_back(&deny_cart);
  d = decide(set, c);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.policy, "ns/deny-cart");
  deny_cart.dry_run = true;
  allow_other.dry_run = true;
  EXPECT_TRUE(decide(set, c).allowed);
  allow_shop.dry_run = true;  // only dry-run ALLOWs: as if there were none
  EXPECT_TRUE(decide(set, c).allowed);
}

}  // namespace
}  // namespace hbone::policy::rbac
