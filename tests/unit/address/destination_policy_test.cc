#include "address/destination_policy.h"

#include <gtest/gtest.h>

#include "net/socket_ops.h"
#include "support/socket_address.h"

using namespace hbone::address;


TEST(DestinationPolicy, EmptyAllowsAny) { EXPECT_TRUE(DestinationPolicy::parse({}).allows_any()); }

TEST(DestinationPolicy, CidrsMatchAddresses) {
  auto p = DestinationPolicy::parse({"10.0.0.0/8", "192.168.1.128/25", "fd00::/16"});
  EXPECT_FALSE(p.allows_any());
  EXPECT_TRUE(p.allows_address(hbone::test::sa(hbone::test::socket_address("10.200.3.4:80"))));
  EXPECT_FALSE(p.allows_address(hbone::test::sa(hbone::test::socket_address("11.0.0.1:80"))));
  EXPECT_TRUE(p.allows_address(hbone::test::sa(hbone::test::socket_address("192.168.1.200:80"))));
  EXPECT_FALSE(p.allows_address(hbone::test::sa(hbone::test::socket_address("192.168.1.127:80"))));
  EXPECT_TRUE(p.allows_address(hbone::test::sa(hbone::test::socket_address("[fd00::5]:80"))));
  EXPECT_FALSE(p.allows_address(hbone::test::sa(hbone::test::socket_address("[fd01::5]:80"))));
}

TEST(DestinationPolicy, HostPortMatchesAuthority) {
  auto p = DestinationPolicy::parse({"db.internal:5432", "127.0.0.1:9"});
  EXPECT_TRUE(p.allows_authority(*parse_host_port("db.internal:5432")));
  EXPECT_FALSE(p.allows_authority(*parse_host_port("db.internal:5433")));
  EXPECT_TRUE(p.allows_authority(*parse_host_port("127.0.0.1:9")));
  EXPECT_FALSE(p.allows_address(hbone::test::sa(hbone::test::socket_address("127.0.0.1:9"))));
}

TEST(DestinationPolicy, RejectsBadEntries) {
  EXPECT_THROW(DestinationPolicy::parse({"10.0.0.0/33"}), std::invalid_argument);
  EXPECT_THROW(DestinationPolicy::parse({"nonsense"}), std::invalid_argument);
  EXPECT_THROW(DestinationPolicy::parse({"10.0.0.0/"}), std::invalid_argument);
}

TEST(Cidr, ZeroPrefixMatchesFamily) {
  auto all4 = Cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all4);
  EXPECT_TRUE(all4->contains(hbone::test::sa(hbone::test::socket_address("8.8.8.8:53"))));
  EXPECT_FALSE(all4->contains(hbone::test::sa(hbone::test::socket_address("[::1]:53"))));
}

TEST(Cidr, Ipv4MappedPrefixesAreReadAsIpv4) {
  // Addresses are matched unmapped: a mapped prefix kept as written would match nothing.
  auto mapped = Cidr::parse("::ffff:10.0.0.0/104");
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->to_string(), "10.0.0.0/8");
  EXPECT_TRUE(mapped->contains(hbone::test::sa(hbone::test::socket_address("10.1.2.3:80"))));
  EXPECT_EQ(Cidr::parse("::ffff:198.18.0.1/128")->to_string(), "198.18.0.1/32");
  EXPECT_FALSE(Cidr::parse("::ffff:0.0.0.0/95"));  // both families at once
  EXPECT_THROW(DestinationPolicy::parse({"::ffff:0:0/64"}), std::invalid_argument);
}
