#include "address/route.h"

#include <gtest/gtest.h>

#include "net/socket_ops.h"
#include "support/socket_address.h"

using namespace hbone::address;

namespace {
Route route(const char* cidr, const char* via, std::vector<uint16_t> ports = {}) {
  return Route{*Cidr::parse(cidr), std::move(ports), *RouteVia::parse(via, nullptr), ""};
}
const Route* find(const std::vector<Route>& routes, const char* hostport) {
  sockaddr_storage ss = hbone::test::socket_address(hostport);
  return find_route(routes, reinterpret_cast<const sockaddr*>(&ss));
}
}  // namespace

TEST(RouteVia, ParsesEachKind) {
  std::string why;
  EXPECT_EQ(RouteVia::parse("direct", &why)->kind, RouteVia::Kind::direct);
  auto dest = RouteVia::parse("destination:15008", &why);
  ASSERT_TRUE(dest);
  EXPECT_EQ(dest->kind, RouteVia::Kind::destination);
  EXPECT_EQ(dest->port, 15008);
  auto gw = RouteVia::parse("[fd00::1]:15008", &why);
  ASSERT_TRUE(gw);
  EXPECT_EQ(gw->kind, RouteVia::Kind::gateway);
  EXPECT_EQ(gw->to_string(), "[fd00::1]:15008");
  EXPECT_FALSE(RouteVia::parse("destination:", &why));
  EXPECT_FALSE(RouteVia::parse("destination:70000", &why));
  EXPECT_FALSE(RouteVia::parse("gateway", &why));
  EXPECT_NE(why.find("want host:port, destination:PORT or direct"), std::string::npos) << why;
}

TEST(Route, FirstMatchWinsAndPortsNarrow) {
  std::vector<Route> routes = {route("198.18.0.0/24", "destination:15008", {80, 443}),
                               route("198.18.0.0/15", "direct"), route("0.0.0.0/0", "10.0.0.1:15008"),
                               route("fd00::/16", "direct")};
  EXPECT_EQ(find(routes, "198.18.0.7:443"), &routes[0]);
  EXPECT_EQ(find(routes, "198.18.0.7:22"), &routes[1]);   // port not in the first
  EXPECT_EQ(find(routes, "198.19.3.4:80"), &routes[1]);
  EXPECT_EQ(find(routes, "192.0.2.1:80"), &routes[2]);
  EXPECT_EQ(find(routes, "[fd00::9]:80"), &routes[3]);
  EXPECT_EQ(find(routes, "[2001:db8::1]:80"), nullptr);  // IPv6 never matches an IPv4 prefix
  EXPECT_EQ(routes[0].describe(), "198.18.0.0/24:80,443 via destination:15008");
}
