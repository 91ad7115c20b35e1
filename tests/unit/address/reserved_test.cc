#include "address/reserved.h"

#include <gtest/gtest.h>

#include "support/socket_address.h"

using namespace hbone;
using address::Reserved;

namespace {

Reserved kind_of(const char* target) {
  sockaddr_storage addr = test::socket_address(target);
  const address::ReservedBlock* block = address::reserved_block(test::sa(addr));
  return block ? block->kind : Reserved::none;
}

}  // namespace

TEST(Reserved, CloudMetadataEndpoints) {
  EXPECT_EQ(kind_of("169.254.169.254:80"), Reserved::link_local);  // AWS, GCP, Azure IMDS
  EXPECT_EQ(kind_of("[fd00:ec2::254]:80"), Reserved::metadata);    // AWS over IPv6
  EXPECT_EQ(kind_of("[fd20:ce::254]:80"), Reserved::metadata);     // GCP over IPv6
  EXPECT_EQ(kind_of("100.100.100.200:80"), Reserved::metadata);    // Alibaba
  EXPECT_EQ(kind_of("168.63.129.16:80"), Reserved::metadata);      // Azure wireserver
  EXPECT_EQ(kind_of("100.100.100.201:80"), Reserved::none);
  EXPECT_EQ(kind_of("[fd20:ce::253]:80"), Reserved::none);
}

TEST(Reserved, Ipv4RulesApplyToIpv6FormsThatCarryIpv4) {
  EXPECT_EQ(kind_of("[::ffff:127.0.0.1]:80"), Reserved::loopback);
  EXPECT_EQ(kind_of("[64:ff9b::7f00:1]:80"), Reserved::loopback);          // NAT64
  EXPECT_EQ(kind_of("[64:ff9b::169.254.169.254]:80"), Reserved::link_local);
  EXPECT_EQ(kind_of("[64:ff9b::100.100.100.200]:80"), Reserved::metadata);
  EXPECT_EQ(kind_of("[::169.254.169.254]:80"), Reserved::link_local);      // IPv4-compatible
  EXPECT_EQ(kind_of("[::127.0.0.1]:80"), Reserved::loopback);
  EXPECT_EQ(kind_of("[::0.0.0.0]:80"), Reserved::unspecified);
  EXPECT_EQ(kind_of("[::1]:80"), Reserved::loopback);  // IPv6's own, not 0.0.0.1
  EXPECT_EQ(kind_of("[64:ff9b::198.18.0.1]:80"), Reserved::none);
  EXPECT_EQ(kind_of("[64:ff9b:1::a9fe:a9fe]:80"), Reserved::none);  // not the /96 well-known prefix
}
