#include "tunnel/peer_policy.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <sstream>
#include <string>

#include "config/config_loader.h"
#include "support/live_reader.h"

using hbone::test::live;

namespace hbone::tunnel {
namespace {

const std::string kCerts = "../../certs/dev/";  // the unit tests run in tests/unit

config::Config base() {
  config::Config c;
  live(c.tls.cert) = kCerts + "gateway.pem";
  live(c.tls.key) = kCerts + "gateway-key.pem";
  live(c.tls.ca) = kCerts + "ca.pem";
  c.gateway.emplace();
  live(c.gateway->allowed_identities) = {"spiffe://cluster.local/ns/default/sa/client"};
  live(c.gateway->allowed_destinations) = address::DestinationPolicy::parse({"198.18.0.0/15"});
  policy::Rule rule;
  rule.from.principals = {"*"};
  rule.from.namespaces = {"default"};
  rule.from.ip_blocks = {*address::Cidr::parse("198.18.0.0/16")};
  rule.to.hosts = {"*.example.com"};
  rule.to.cidrs = {*address::Cidr::parse("198.18.1.0/24")};
  rule.to.ports = {443};
  live(c.gateway->policies) = {{"p", false, {rule}}};
  c.client.emplace();
  live(c.client->gateway_identity) = "spiffe://cluster.local/ns/default/sa/gateway";
  live(c.client->listeners) = {{{"127.0.0.1", 15001}, {"198.18.1.1", 80}}};
  live(c.client->routes) = {{*address::Cidr::parse("198.18.0.0/15"), {443}, *address::RouteVia::parse("destination:15008", nullptr),
                       "spiffe://cluster.local/ns/default/sa/node"}};
  return c;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += item + ",";
  return out;
}

// What a snapshot holds, as text; a build that fails is a state too.
std::string seen(const config::Config& c) {
  std::ostringstream out;
  try {
    auto p = PeerPolicy::build(c);
    out << "chain " << p->own_chain.front().serial << " ca " << p->ca_bundle.front().serial << " ids "
        << join(p->allowed_identities) << " fwd " << join(p->trusted_forwarders) << " dst " << join(p->destinations.entries()) << " gw "
        << p->gateway_identity;
    out << " limits " << p->limits.max_tunnels << " " << p->limits.max_tunnels_per_identity << " "
        << p->limits.idle_timeout.count() << " " << p->limits.buffer_memory;
    for (const auto& l : p->listeners) out << " listener " << l.listen.to_string() << ">" << l.target.to_string();
    for (const auto& route : p->routes) {
      out << " route " << route.describe() << " " << route.identity << " " << route.through_identity;
    }
    for (const auto& policy : p->authorization) {
      out << " policy " << policy.name << (policy.deny ? " deny" : " allow");
      for (const auto& r : policy.rules) {
        out << " rule " << join(r.from.principals) << "|" << join(r.from.namespaces) << "|";
        for (const auto& b : r.from.ip_blocks) out << b.to_string() << ",";
        out << "|" << join(r.to.hosts) << "|";
        for (const auto& b : r.to.cidrs) out << b.to_string() << ",";
        out << "|";
        for (auto port : r.to.ports) out << port << ",";
      }
    }
  } catch (const std::exception& e) {
    out << "error: " << e.what();
  }
  return out.str();
}

// Every key keys.h marks `live` is read into the PeerPolicy snapshot that a reload swaps in
// on each worker: changing that key alone changes what the snapshot holds. A new live key
// fails here until the snapshot carries it and a probe below names it.
TEST(PeerPolicy, EveryLiveKeyIsReadIntoTheSnapshot) {
  auto rule = [](config::Config& c) -> policy::Rule& { return live(c.gateway->policies)[0].rules[0]; };
  std::map<std::string, std::function<void(config::Config&)>> probes = {
      {"tls.cert", [](auto& c) { live(c.tls.cert) = kCerts + "client.pem"; }},
      {"tls.key", [](auto& c) { live(c.tls.key) = kCerts + "client-key.pem"; }},
      {"tls.ca", [](auto& c) { live(c.tls.ca) = kCerts + "other-ca.pem"; }},
      {"gateway.allowed_identities", [](auto& c) { live(c.gateway->allowed_identities).clear(); }},
      {"gateway.trusted_forwarders", [](auto& c) { live(c.gateway->trusted_forwarders) = {"spiffe://x/waypoint"}; }},
      {"gateway.allowed_destinations",
       [](auto& c) { live(c.gateway->allowed_destinations) = address::DestinationPolicy::parse({"10.0.0.0/8"}); }},
      {"gateway.policies", [](auto& c) { live(c.gateway->policies).clear(); }},
      {"gateway.policies[].name", [](auto& c) { live(c.gateway->policies)[0].name = "q"; }},
      {"gateway.policies[].action", [](auto& c) { live(c.gateway->policies)[0].deny = true; }},
      {"gateway.policies[].rules", [](auto& c) { live(c.gateway->policies)[0].rules.clear(); }},
      {"gateway.policies[].rules[].from.principals", [&](auto& c) { rule(c).from.principals = {"a"}; }},
      {"gateway.policies[].rules[].from.namespaces", [&](auto& c) { rule(c).from.namespaces.clear(); }},
      {"gateway.policies[].rules[].from.ip_blocks", [&](auto& c) { rule(c).from.ip_blocks.clear(); }},
      {"gateway.policies[].rules[].to.hosts", [&](auto& c) { rule(c).to.hosts = {"x"}; }},
      {"gateway.policies[].rules[].to.cidrs", [&](auto& c) { rule(c).to.cidrs.clear(); }},
      {"gateway.policies[].rules[].to.ports", [&](auto& c) { rule(c).to.ports = {80}; }},
      {"client.gateway_identity", [](auto& c) { live(c.client->gateway_identity) = ""; }},
      {"client.routes", [](auto& c) { live(c.client->routes).clear(); }},
      {"client.listeners", [](auto& c) { live(c.client->listeners).clear(); }},
      {"client.listeners[].listen", [](auto& c) { live(c.client->listeners)[0].listen.port = 15002; }},
      {"client.listeners[].target", [](auto& c) { live(c.client->listeners)[0].target.port = 81; }},
      {"limits.max_tunnels", [](auto& c) { live(c.limits).max_tunnels = 7; }},
      {"limits.max_tunnels_per_identity", [](auto& c) { live(c.limits).max_tunnels_per_identity = 7; }},
      {"limits.idle_timeout", [](auto& c) { live(c.limits).idle_timeout = std::chrono::seconds(7); }},
      {"limits.buffer_memory", [](auto& c) { live(c.limits).buffer_memory = 7; }},
      {"client.routes[].cidr", [](auto& c) { live(c.client->routes)[0].cidr = *address::Cidr::parse("10.0.0.0/8"); }},
      {"client.routes[].ports", [](auto& c) { live(c.client->routes)[0].ports.clear(); }},
      {"client.routes[].gateway", [](auto& c) { live(c.client->routes)[0].via = *address::RouteVia::parse("direct", nullptr); }},
      {"client.routes[].identity", [](auto& c) { live(c.client->routes)[0].identity = ""; }},
      {"client.routes[].via", [](auto& c) { live(c.client->routes)[0].through = address::HostPort{"198.18.0.9", 15008}; }},
      {"client.routes[].via_identity", [](auto& c) { live(c.client->routes)[0].through_identity = "spiffe://x/y"; }},
  };
  std::vector<std::string> probed;
  for (const auto& [key, change] : probes) probed.push_back(key);
  std::vector<std::string> live = config::live_keys();
  std::sort(live.begin(), live.end());
  EXPECT_EQ(live, probed) << "a live key without a probe here, or a probe for a key that is not live";

  const std::string before = seen(base());
  ASSERT_EQ(before.find("error"), std::string::npos) << before;
  for (const auto& [key, change] : probes) {
    config::Config changed = base();
    change(changed);
    EXPECT_NE(seen(changed), before) << key << " is live but the snapshot does not change with it";
  }
}

}  // namespace
}  // namespace hbone::tunnel
