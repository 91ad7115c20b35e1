#include "client/route_decision.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "net/socket_ops.h"
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
  EXPECT_EQ(decision.describe, kRoutes[0].describe());

  // The same address on another port: the port list does not take it, the next route does.
  auto web = test::socket_address("198.18.5.9:443");
  decision = decide_route(kRoutes, test::sa(web));
  EXPECT_EQ(decision.kind, RouteDecision::Kind::tunnel);
  EXPECT_EQ(decision.describe, kRoutes[1].describe());
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
  EXPECT_EQ(decision.describe, kRoutes[2].describe());
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
  EXPECT_EQ(decision.why, "no route matches");
  EXPECT_EQ(decide_route({}, test::sa(v6)).kind, RouteDecision::Kind::reject);
}

// The mesh: two HBONE pods behind a service (one unhealthy pod too), a plain-TCP pod, a pod
// on another network behind its gateway, and one with a waypoint.
class MeshRoute : public ::testing::Test {
 protected:
  static std::shared_ptr<const mesh::Workload> pod(std::string uid, std::string ip, std::string sa,
                                                  std::function<void(mesh::Workload&)> more = {}) {
    mesh::Workload w;
    w.uid = uid;
    w.namespace_name = "shop";
    w.service_account = std::move(sa);
    w.addresses = {std::move(ip)};
    w.protocol = mesh::TunnelProtocol::hbone;
    w.services["shop/cart.shop.svc.cluster.local"] = {{80, 8080}};
    if (more) more(w);
    return std::make_shared<const mesh::Workload>(std::move(w));
  }
  void SetUp() override {
    mesh::Service cart;
    cart.namespace_name = "shop";
    cart.hostname = "cart.shop.svc.cluster.local";
    cart.vips = {{"", "198.18.100.1"}};
    cart.ports = {{80, 8080}, {443, 0}};
    mesh::Service billing = cart;
    billing.hostname = "billing.shop.svc.cluster.local";
    billing.vips = {{"", "198.18.100.2"}};
    billing.waypoint = mesh::GatewayAddress{mesh::NetworkAddress{"", "198.18.0.50"}, "", 15008};
    mesh::Service dual = cart;  // dual-stack: an address of each family
    dual.hostname = "dual.shop.svc.cluster.local";
    dual.vips = {{"", "198.18.100.3"}, {"", "2001:2::100:3"}};
    mesh::MeshState::Workloads workloads = {
        {"a", pod("a", "198.18.1.1", "cart-a")},
        {"b", pod("b", "198.18.1.2", "cart-b", [](mesh::Workload& w) { w.services.begin()->second = {{80, 9090}}; })},
        {"sick", pod("sick", "198.18.1.3", "cart", [](mesh::Workload& w) { w.healthy = false; })},
        {"plain", pod("plain", "198.18.1.4", "legacy", [](mesh::Workload& w) {
           w.protocol = mesh::TunnelProtocol::none;
           w.services.clear();
         })},
        {"west", pod("west", "10.0.0.5", "west", [](mesh::Workload& w) {
           w.network = "west";
           w.services.clear();
           w.network_gateway = mesh::GatewayAddress{mesh::NetworkAddress{"", "198.18.0.9"}, "", 15008};
         })},
        {"ew", pod("ew", "198.18.0.9", "eastwest", [](mesh::Workload& w) { w.services.clear(); })},
        {"dual", pod("dual", "198.18.1.7", "dual", [](mesh::Workload& w) {
           w.addresses.push_back("2001:2::7");
           w.addresses.push_back("198.18.1.8");
           w.services = {{"shop/dual.shop.svc.cluster.local", {{80, 8080}}}};
         })},
        {"guarded", pod("guarded", "198.18.1.6", "guarded", [](mesh::Workload& w) {
           w.waypoint = mesh::GatewayAddress{std::nullopt, "shop/waypoint.shop.svc.cluster.local", 15008};
           w.services.clear();
         })}};
    state_ = std::make_unique<mesh::MeshState>(std::move(workloads),
        mesh::MeshState::Services{{cart.key(), std::make_shared<const mesh::Service>(cart)},
                                  {billing.key(), std::make_shared<const mesh::Service>(billing)},
                                  {dual.key(), std::make_shared<const mesh::Service>(dual)}},
        mesh::MeshState::Policies{});
  }
  std::optional<RouteDecision> decide(const char* destination, std::string_view network = "") {
    auto address = test::socket_address(destination);
    return decide_mesh(*state_, network, test::sa(address), round_robin_);
  }
  static std::string target(const RouteDecision& d) { return net::format_address(reinterpret_cast<const sockaddr*>(&*d.target)); }

  std::unique_ptr<mesh::MeshState> state_;
  uint64_t round_robin_ = 0;
};

TEST_F(MeshRoute, AServiceVipGoesToEachHealthyEndpointInTurnOnItsTargetPort) {
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto d = decide("198.18.100.1:80");
    ASSERT_TRUE(d);
    ASSERT_EQ(d->kind, RouteDecision::Kind::tunnel);
    seen.push_back(target(*d) + " " + d->upstream.key());
  }
  // a maps 80 to 8080 as the service does; b maps it to 9090 itself; the sick pod never.
  EXPECT_EQ(seen[0], "198.18.1.1:8080 198.18.1.1:15008 spiffe://cluster.local/ns/shop/sa/cart-a");
  EXPECT_EQ(seen[1], "198.18.1.2:9090 198.18.1.2:15008 spiffe://cluster.local/ns/shop/sa/cart-b");
  EXPECT_EQ(seen[2], seen[0]);
  EXPECT_EQ(seen[3], seen[1]);
  // A service port that maps to nothing keeps its number.
  auto d = decide("198.18.100.1:443");
  EXPECT_EQ(target(*d), "198.18.1.1:443");
}

TEST_F(MeshRoute, AWorkloadAddressIsThatWorkload) {
  auto d = decide("198.18.1.2:7000");
  ASSERT_EQ(d->kind, RouteDecision::Kind::tunnel);
  EXPECT_EQ(target(*d), "198.18.1.2:7000");
  EXPECT_EQ(d->upstream.identity, "spiffe://cluster.local/ns/shop/sa/cart-b");
  EXPECT_EQ(d->describe, "mesh: workload b");
}

TEST_F(MeshRoute, ADualStackPodIsReachedInTheFamilyItWasDialledIn) {
  // Dialled itself: at that address; behind a service: at its address of the service
  // address's family.
  for (auto [dialled, reached] : {std::pair{"[2001:2::7]:7000", "[2001:2::7]:7000"},
                                  std::pair{"198.18.1.7:7000", "198.18.1.7:7000"},
                                  std::pair{"198.18.1.8:7000", "198.18.1.8:7000"},
                                  std::pair{"[2001:2::100:3]:80", "[2001:2::7]:8080"},
                                  std::pair{"198.18.100.3:80", "198.18.1.7:8080"}}) {
    auto d = decide(dialled);
    ASSERT_TRUE(d) << dialled;
    EXPECT_EQ(target(*d), reached) << dialled;
    EXPECT_EQ(d->upstream.key(), std::string(reached).substr(0, std::string(reached).rfind(':')) +
                                     ":15008 spiffe://cluster.local/ns/shop/sa/dual")
        << dialled;
  }
}

TEST_F(MeshRoute, APodWithoutHboneIsDialledDirectly) {
  auto d = decide("198.18.1.4:5432");
  EXPECT_EQ(d->kind, RouteDecision::Kind::direct);
  EXPECT_EQ(target(*d), "198.18.1.4:5432");
}

TEST_F(MeshRoute, AnotherNetworkIsReachedThroughItsGateway) {
  auto d = decide("10.0.0.5:80", "west");  // looked up on the network it is on
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->upstream.through);  // same network: straight
  EXPECT_FALSE(decide("10.0.0.5:80"));  // not on this node's network: not in the mesh
  state_ = std::make_unique<mesh::MeshState>(*state_);
  // Reached as an endpoint of a service from this network.
  auto copy = state_->workloads();
  auto west = std::make_shared<mesh::Workload>(*copy["west"]);
  west->services["shop/cart.shop.svc.cluster.local"] = {{80, 8080}};
  copy["west"] = west;
  copy.erase("a");
  copy.erase("b");
  state_ = std::make_unique<mesh::MeshState>(copy, state_->services(), state_->policies());
  d = decide("198.18.100.1:80");
  ASSERT_EQ(d->kind, RouteDecision::Kind::tunnel);
  EXPECT_EQ(d->upstream.key(), "10.0.0.5:15008 spiffe://cluster.local/ns/shop/sa/west through 198.18.0.9:15008 "
                               "spiffe://cluster.local/ns/shop/sa/eastwest");
}

TEST_F(MeshRoute, WaypointsAreNeverGoneAround) {
  auto d = decide("198.18.100.2:80");
  EXPECT_EQ(d->kind, RouteDecision::Kind::reject);
  EXPECT_NE(d->why.find("service shop/billing.shop.svc.cluster.local has waypoint /198.18.0.50:15008"), std::string::npos);
  d = decide("198.18.1.6:80");
  EXPECT_EQ(d->kind, RouteDecision::Kind::reject);
  EXPECT_NE(d->why.find("workload guarded has waypoint shop/waypoint.shop.svc.cluster.local:15008"), std::string::npos);
}

TEST_F(MeshRoute, UnknownAddressesAreNotTheMeshs) { EXPECT_FALSE(decide("203.0.113.7:443")); }

}  // namespace
}  // namespace hbone::client
