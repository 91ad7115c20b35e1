#include "client/route_decision.h"

#include <gtest/gtest.h>

#include "support/socket_address.h"

namespace hbone::client {
namespace {

address::Route route(const char* cidr, const char* via, std::vector<uint16_t> ports = {}, std::string identity = "") {
  return {*address::Cidr::parse(cidr), std::move(ports), *address::RouteVia::parse(via, nullptr), std::move(identity)};
}

// As DESIGN.md's client.routes example: the local network node to node, an egress gateway
// for the rest, one service left in the clear; first match wins.
const std::vector<address::Route> kRoutes = {
    route("198.18.5.0/24", "direct", {53}),
    route("198.18.0.0/15", "destination:15008", {}, "spiffe://cluster.local/ns/default/sa/node"),
    route("0.0.0.0/0", "198.18.3.1:15008"),
};

TEST(RouteDecision, FirstMatchWins) {
  auto dns = test::socket_address("198.18.5.9:53");
  auto decision = decide_route(kRoutes, test::sa(dns));
  EXPECT_EQ(decision.kind, RouteDecision::Kind::direct);
  EXPECT_EQ(decision.route, &kRoutes[0]);

  // The same address on another port: the port list does not take it, the next route does.
  auto web = test::socket_address("198.18.5.9:443");
  decision = decide_route(kRoutes, test::sa(web));
  EXPECT_EQ(decision.kind, RouteDecision::Kind::tunnel);
  EXPECT_EQ(decision.route, &kRoutes[1]);
}

TEST(RouteDecision, DestinationRoutesTunnelToTheDestinationsOwnAddress) {
  auto pod = test::socket_address("198.19.4.7:8080");
  auto decision = decide_route(kRoutes, test::sa(pod));
  ASSERT_EQ(decision.kind, RouteDecision::Kind::tunnel);
  EXPECT_EQ(decision.upstream.address.to_string(), "198.19.4.7:15008");
  EXPECT_EQ(decision.upstream.identity, "spiffe://cluster.local/ns/default/sa/node");
}

TEST(RouteDecision, GatewayRoutesTunnelToTheGateway) {
  auto outside = test::socket_address("203.0.113.10:443");
  auto decision = decide_route(kRoutes, test::sa(outside));
  ASSERT_EQ(decision.kind, RouteDecision::Kind::tunnel);
  EXPECT_EQ(decision.upstream.address.to_string(), "198.18.3.1:15008");
  EXPECT_EQ(decision.upstream.identity, "");
  EXPECT_EQ(decision.route->describe(), kRoutes[2].describe());
}

// Double HBONE: the upstream is the remote gateway, reached through the east-west one; its
// pool is keyed by both, apart from a pool straight to the same gateway.
TEST(RouteDecision, ViaRoutesGoThroughTheEastWestGateway) {
  auto remote = route("198.20.0.0/16", "destination:15008", {}, "spiffe://cluster.local/ns/default/sa/node");
  remote.through = address::HostPort{"198.18.0.9", 15008};
  remote.through_identity = "spiffe://cluster.local/ns/istio-system/sa/eastwest";
  auto pod = test::socket_address("198.20.1.5:80");
  auto decision = decide_route({remote}, test::sa(pod));
  ASSERT_EQ(decision.kind, RouteDecision::Kind::tunnel);
  EXPECT_EQ(decision.upstream.address.to_string(), "198.20.1.5:15008");
  ASSERT_TRUE(decision.upstream.through);
  EXPECT_EQ(decision.upstream.outer().key(), "198.18.0.9:15008 spiffe://cluster.local/ns/istio-system/sa/eastwest");
  EXPECT_EQ(decision.upstream.key(), "198.20.1.5:15008 spiffe://cluster.local/ns/default/sa/node through "
                                     "198.18.0.9:15008 spiffe://cluster.local/ns/istio-system/sa/eastwest");
  EXPECT_EQ(remote.describe(), "198.20.0.0/16 via destination:15008 through 198.18.0.9:15008");
}

TEST(RouteDecision, NoRouteRejects) {
  auto v6 = test::socket_address("[fd00::1]:443");  // no IPv6 route
  auto decision = decide_route(kRoutes, test::sa(v6));
  EXPECT_EQ(decision.kind, RouteDecision::Kind::reject);
  EXPECT_EQ(decision.route, nullptr);
  EXPECT_EQ(decide_route({}, test::sa(v6)).kind, RouteDecision::Kind::reject);
}

}  // namespace
}  // namespace hbone::client
