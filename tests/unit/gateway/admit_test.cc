#include "gateway/admit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/socket_address.h"
#include "tunnel/tunnel.h"

using namespace hbone;
using gateway::DestinationRefusal;
using gateway::Verdict;

namespace {

const std::string kClient = "spiffe://cluster.local/ns/default/sa/client";

policy::Rule to_hosts(std::vector<std::string> hosts) {
  policy::Rule rule;
  rule.to.hosts = std::move(hosts);
  return rule;
}

policy::Rule to_cidr(const char* cidr) {
  policy::Rule rule;
  rule.to.cidrs = {*address::Cidr::parse(cidr)};
  return rule;
}

// One gateway's rules and one peer, as a connection would pass them.
struct Gateway {
  tunnel::PeerPolicy snapshot;
  net::OwnListeners own;
  bool require_arrived_address = false;
  bool transparent = false;
  std::string identity = kClient;
  sockaddr_storage peer_address = test::socket_address("198.18.0.2:40000");
  sockaddr_storage arrived = test::socket_address("198.18.0.1:15008");

  Gateway() {
    snapshot.allowed_identities = {kClient};
    own.add({"198.18.0.1", 15008});
  }
  gateway::Peer peer() const { return {identity, test::sa(peer_address), test::sa(arrived)}; }
  gateway::Rules rules() const { return {snapshot, own, 65536, require_arrived_address, transparent}; }
  Verdict request(const char* authority, const char* method = "CONNECT", size_t header_bytes = 100) const {
    return gateway::admit_request({method, authority, header_bytes}, peer(), rules());
  }
  Verdict address(const char* authority, const char* address) const {
    sockaddr_storage addr = test::socket_address(address);
    return gateway::admit_address(address::parse_host_port(authority)->canonical(), test::sa(addr), peer(), rules());
  }
};

// A verdict's outcome in one line, for the tables.
struct Outcome {
  int status;
  DestinationRefusal refusal;
  std::string policy;
  std::string reason;  // a prefix of the verdict's

  friend bool operator==(const Outcome&, const Outcome&) = default;
};

Outcome outcome_of(const Verdict& v, size_t reason_prefix) {
  return {v.status, v.refusal, std::string(v.decision.policy), v.reason.substr(0, reason_prefix)};
}

void expect(const Verdict& v, const Outcome& want, const char* what) {
  EXPECT_EQ(outcome_of(v, want.reason.size()), want)
      << what << ": got " << v.status << " refusal " << static_cast<int>(v.refusal) << " policy \""
      << v.decision.policy << "\" reason \"" << v.reason << "\"";
  EXPECT_EQ(v.admitted(), v.status == 200) << what;
  EXPECT_EQ(v.reason.empty(), v.status == 200) << what;
}

}  // namespace

TEST(Admit, RequestTable) {
  Gateway open;
  Gateway arrived;
  arrived.require_arrived_address = true;
  Gateway stranger;
  stranger.identity = "spiffe://cluster.local/ns/other/sa/x";
  Gateway listed;
  listed.snapshot.destinations = address::DestinationPolicy::parse({"db.example:5432"});
  Gateway denying;
  denying.snapshot.authorization = {{"deny-hosts", true, {to_hosts({"blocked.example", "*.evil.example"})}},
                                    {"allow-net", false, {to_cidr("198.18.1.0/24")}}};
  const DestinationRefusal none = DestinationRefusal::none;
  struct Row {
    const char* what;
    const Gateway& gateway;
    const char* authority;
    const char* method;
    size_t header_bytes;
    Outcome want;
  } rows[] = {
      {"headers too large", open, "198.18.1.5:80", "CONNECT", 70000,
       {431, none, "", "request headers of 70000 bytes exceed max_header_list_size"}},
      {"not CONNECT", open, "198.18.1.5:80", "GET", 100, {405, none, "", "method GET is not CONNECT"}},
      {"no port", open, "198.18.1.5", "CONNECT", 100, {400, none, "", "bad authority \"198.18.1.5\": "}},
      {"another address than the arrived one", arrived, "198.18.0.9:80", "CONNECT", 100,
       {400, DestinationRefusal::not_arrived, "",
        "target 198.18.0.9:80 is not the address this connection arrived on (198.18.0.1:15008)"}},
      {"a name where the arrived address is required", arrived, "db.example:80", "CONNECT", 100,
       {400, DestinationRefusal::not_arrived, "", "target db.example:80 is not"}},
      {"the arrived address", arrived, "198.18.0.1:8080", "CONNECT", 100, {200, none, "", ""}},
      {"identity not allowed", stranger, "198.18.1.5:80", "CONNECT", 100,
       {403, none, "", "identity spiffe://cluster.local/ns/other/sa/x not allowed"}},
      {"authority not listed", listed, "other.example:5432", "CONNECT", 100,
       {403, DestinationRefusal::not_allowed, "", "destination other.example:5432 not allowed"}},
      {"authority listed, any case and a trailing dot", listed, "DB.example.:5432", "CONNECT", 100,
       {200, none, "", ""}},
      {"denied by host before any lookup", denying, "BLOCKED.example.:80", "CONNECT", 100,
       {403, none, "deny-hosts", "denied: policy=deny-hosts"}},
      {"denied by a host pattern", denying, "a.evil.example:443", "CONNECT", 100,
       {403, none, "deny-hosts", "denied: policy=deny-hosts"}},
      {"a name the address decides on", denying, "fine.example:80", "CONNECT", 100, {200, none, "", ""}},
  };
  for (const Row& row : rows) {
    expect(row.gateway.request(row.authority, row.method, row.header_bytes), row.want, row.what);
  }
}

TEST(Admit, RequestKeepsTheTargetAsSentAndMatchesItCanonical) {
  Gateway open;
  Verdict v = open.request("DB.Example.:5432");
  ASSERT_TRUE(v.admitted());
  EXPECT_EQ(v.target.to_string(), "DB.Example.:5432");  // dialled as sent
  EXPECT_EQ(v.named.to_string(), "db.example:5432");    // matched, logged, counted
}

TEST(Admit, AddressTable) {
  Gateway open;
  Gateway stranger;
  stranger.identity = "spiffe://cluster.local/ns/other/sa/x";
  Gateway allowing;
  allowing.snapshot.authorization = {{"allow-net", false, {to_cidr("198.18.1.0/24")}}};
  Gateway sidecar;  // a sidecar's or VM's inbound: its host is the workload
  sidecar.require_arrived_address = true;
  sidecar.own.set_host(net::HostAddresses({test::socket_address("198.18.0.1:1")}));
  Gateway node = sidecar;  // a node gateway (transparent): no exception
  node.transparent = true;
  const DestinationRefusal none = DestinationRefusal::none;
  struct Row {
    const char* what;
    const Gateway& gateway;
    const char* authority;
    const char* address;
    Outcome want;
  } rows[] = {
      {"an ordinary address", open, "198.18.1.5:80", "198.18.1.5:80", {200, none, "", ""}},
      {"identity no longer allowed", stranger, "198.18.1.5:80", "198.18.1.5:80",
       {403, none, "", "identity spiffe://cluster.local/ns/other/sa/x not allowed"}},
      {"loopback behind a name", open, "localhost:80", "127.0.0.1:80", {403, DestinationRefusal::loopback, "", ""}},
      {"metadata", open, "metadata:80", "169.254.169.254:80", {403, DestinationRefusal::link_local, "", ""}},
      {"hbone's own listener", open, "198.18.0.1:15008", "198.18.0.1:15008",
       {403, DestinationRefusal::own_listener, "", ""}},
      {"allowed by a policy", allowing, "app.example:80", "198.18.1.5:80", {200, none, "allow-net", ""}},
      {"no policy allows it", allowing, "app.example:80", "198.18.2.5:80",
       {403, none, "none-matched", "denied: policy=none-matched"}},
      {"the sidecar's own address", sidecar, "198.18.0.1:8080", "198.18.0.1:8080", {200, none, "", ""}},
      {"the node's own address", node, "198.18.0.1:8080", "198.18.0.1:8080",
       {403, DestinationRefusal::host_address, "", ""}},
  };
  for (const Row& row : rows) {
    expect(row.gateway.address(row.authority, row.address), row.want, row.what);
  }
}

TEST(Admit, DecideJudgesAnOpenTunnelByThePoliciesAlone) {
  Gateway allowing;
  allowing.snapshot.authorization = {{"allow-net", false, {to_cidr("198.18.1.0/24")}}};
  sockaddr_storage in = test::socket_address("[::ffff:198.18.1.5]:80");  // as a [::] socket reports it
  sockaddr_storage out = test::socket_address("198.18.2.5:80");
  EXPECT_TRUE(gateway::decide(allowing.snapshot, allowing.peer(), {"app.example", 80}, test::sa(in)).allowed);
  EXPECT_FALSE(gateway::decide(allowing.snapshot, allowing.peer(), {"app.example", 80}, test::sa(out)).allowed);
  EXPECT_TRUE(gateway::decide(Gateway{}.snapshot, allowing.peer(), {"app.example", 80}, test::sa(out)).allowed);
}

TEST(Admit, EveryRefusalHasItsFlags) {
  // Envoy's response flags for each status a CONNECT can get: malformed requests (DPE), a
  // verdict's 403 (UAEX), the tunnel caps (UO: the connection passes them explicitly for 503
  // too), a dial that failed (UF).
  struct Row {
    int status;
    const char* flags;
  } rows[] = {{400, "DPE"}, {405, "DPE"}, {431, "DPE"}, {403, "UAEX"}, {429, "UO"}, {503, "UF"}};
  for (const Row& row : rows) EXPECT_STREQ(tunnel::response_flags(row.status), row.flags) << row.status;
}
