#include "gateway/destination_guard.h"

#include <gtest/gtest.h>

#include "support/socket_address.h"

using namespace hbone;
using gateway::DestinationGuard;
using gateway::DestinationRefusal;

namespace {

DestinationRefusal check(const std::vector<std::string>& allowed, const char* target, bool listed = false,
                         const net::OwnListeners& own = {}) {
  auto policy = address::DestinationPolicy::parse(allowed);
  sockaddr_storage addr = test::socket_address(target);
  std::string why;
  DestinationRefusal refusal = DestinationGuard{policy, own, listed}.check(test::sa(addr), why);
  EXPECT_EQ(why.empty(), refusal == DestinationRefusal::none) << target << ": " << why;
  return refusal;
}

}  // namespace

TEST(DestinationGuard, ReservedAddressesRefusedByDefault) {
  EXPECT_EQ(check({}, "127.0.0.1:80"), DestinationRefusal::loopback);
  EXPECT_EQ(check({}, "127.200.0.1:80"), DestinationRefusal::loopback);
  EXPECT_EQ(check({}, "[::1]:80"), DestinationRefusal::loopback);
  EXPECT_EQ(check({}, "[::ffff:127.0.0.1]:80"), DestinationRefusal::loopback);
  EXPECT_EQ(check({}, "169.254.169.254:80"), DestinationRefusal::link_local);
  EXPECT_EQ(check({}, "[::ffff:169.254.169.254]:80"), DestinationRefusal::link_local);
  EXPECT_EQ(check({}, "[fe80::1]:80"), DestinationRefusal::link_local);
  EXPECT_EQ(check({}, "0.0.0.0:80"), DestinationRefusal::unspecified);
  EXPECT_EQ(check({}, "[::]:80"), DestinationRefusal::unspecified);
  EXPECT_EQ(check({}, "[fd00:ec2::254]:80"), DestinationRefusal::metadata);
  EXPECT_EQ(check({}, "198.18.0.1:80"), DestinationRefusal::none);
  EXPECT_EQ(check({}, "[2001:db8::1]:80"), DestinationRefusal::none);
}

TEST(DestinationGuard, AWideRangeDoesNotNameReservedOnes) {
  EXPECT_EQ(check({"0.0.0.0/0", "::/0"}, "127.0.0.1:80"), DestinationRefusal::loopback);
  EXPECT_EQ(check({"0.0.0.0/0"}, "169.254.169.254:80"), DestinationRefusal::link_local);
  EXPECT_EQ(check({"::/0"}, "[fe80::1]:80"), DestinationRefusal::link_local);
  EXPECT_EQ(check({"0.0.0.0/0"}, "203.0.113.9:443"), DestinationRefusal::none);
}

TEST(DestinationGuard, NamedReservedRangesAreDialled) {
  EXPECT_EQ(check({"127.0.0.1/32"}, "127.0.0.1:80"), DestinationRefusal::none);
  EXPECT_EQ(check({"127.0.0.1/32"}, "127.0.0.2:80"), DestinationRefusal::loopback);
  EXPECT_EQ(check({"127.0.0.0/8"}, "127.0.0.2:80"), DestinationRefusal::none);
  EXPECT_EQ(check({"169.254.169.254/32"}, "169.254.169.254:80"), DestinationRefusal::none);
  EXPECT_EQ(check({"::1/128"}, "[::1]:80"), DestinationRefusal::none);
  // The authority as a host:port entry names whatever it resolves to.
  EXPECT_EQ(check({"localhost:80"}, "127.0.0.1:80", /*listed=*/true), DestinationRefusal::none);
}

TEST(DestinationGuard, OwnListenersNeverDialled) {
  net::OwnListeners own;
  own.add({"127.0.0.1", 15000});
  own.add({"0.0.0.0", 15008});
  own.add({"::", 15020});
  EXPECT_EQ(check({"127.0.0.0/8"}, "127.0.0.1:15000", false, own), DestinationRefusal::own_listener);
  EXPECT_EQ(check({"127.0.0.1:15000"}, "127.0.0.1:15000", true, own), DestinationRefusal::own_listener);
  EXPECT_EQ(check({"0.0.0.0/8"}, "0.0.0.0:15000", false, own), DestinationRefusal::own_listener);
  EXPECT_EQ(check({"127.0.0.0/8"}, "127.0.0.1:15001", false, own), DestinationRefusal::none);
  // A wildcard listener is on every local address, of both families for [::].
  EXPECT_EQ(check({"127.0.0.0/8"}, "127.0.0.9:15008", false, own), DestinationRefusal::own_listener);
  EXPECT_EQ(check({"127.0.0.0/8"}, "127.0.0.9:15020", false, own), DestinationRefusal::own_listener);
  EXPECT_EQ(check({"::1/128"}, "[::1]:15020", false, own), DestinationRefusal::own_listener);
  EXPECT_EQ(check({"::1/128"}, "[::ffff:127.0.0.1]:15000", false, own), DestinationRefusal::own_listener);
  // Not an address of this host (a benchmarking range no host here carries).
  EXPECT_EQ(check({}, "198.19.254.1:15008", false, own), DestinationRefusal::none);
}

TEST(DestinationGuard, HostAddressesOnlyWhenNamedExactly) {
  // A node's bridge holds its pod CIDR's .1: inside the range a node gateway may dial, but
  // a tunnel there reaches the node's own services.
  net::OwnListeners own;
  std::vector<sockaddr_storage> addresses = {test::socket_address("198.19.2.1:1"),
                                             test::socket_address("[2001:db8::1]:1")};
  own.set_host(net::HostAddresses(addresses));
  EXPECT_EQ(check({"198.19.2.0/24"}, "198.19.2.1:31250", false, own), DestinationRefusal::host_address);
  EXPECT_EQ(check({}, "198.19.2.1:31250", false, own), DestinationRefusal::host_address);
  EXPECT_EQ(check({"0.0.0.0/0"}, "[::ffff:198.19.2.1]:31250", false, own), DestinationRefusal::host_address);
  EXPECT_EQ(check({"::/0"}, "[2001:db8::1]:22", false, own), DestinationRefusal::host_address);
  EXPECT_EQ(check({"198.19.2.0/24"}, "198.19.2.2:8080", false, own), DestinationRefusal::none);
  EXPECT_EQ(check({"198.19.2.1/32"}, "198.19.2.1:31250", false, own), DestinationRefusal::none);
  EXPECT_EQ(check({"198.19.2.1:31250"}, "198.19.2.1:31250", /*listed=*/true, own), DestinationRefusal::none);
  // A listed host address is still subject to the rest: hbone's own listeners never.
  own.add({"0.0.0.0", 15008});
  EXPECT_EQ(check({"198.19.2.1/32"}, "198.19.2.1:15008", false, own), DestinationRefusal::own_listener);
}

TEST(DestinationGuard, OthersAsTheAllowListSays) {
  EXPECT_EQ(check({"10.0.0.0/8"}, "10.1.2.3:80"), DestinationRefusal::none);
  EXPECT_EQ(check({"10.0.0.0/8"}, "11.1.2.3:80"), DestinationRefusal::not_allowed);
  EXPECT_EQ(check({"10.0.0.0/8"}, "[::ffff:10.1.2.3]:80"), DestinationRefusal::none);
  EXPECT_EQ(check({"db.internal:5432"}, "11.1.2.3:5432", /*listed=*/true), DestinationRefusal::none);
}
