#include "address/host_port.h"

#include <gtest/gtest.h>

using hbone::address::HostPort;
using hbone::address::parse_host_port;

TEST(ParseHostPort, Ipv4) {
  auto hp = parse_host_port("10.0.0.1:8080");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "10.0.0.1");
  EXPECT_EQ(hp->port, 8080);
  EXPECT_FALSE(hp->is_ipv6());
}

TEST(ParseHostPort, BracketedIpv6) {
  auto hp = parse_host_port("[fd00::1]:443");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "fd00::1");
  EXPECT_EQ(hp->port, 443);
  EXPECT_EQ(hp->to_string(), "[fd00::1]:443");
}

TEST(ParseHostPort, DnsNames) {
  for (const char* ok : {"svc:80", "svc.ns.svc.cluster.local:15008", "a-b_c.example:1",
                         "x:65535"}) {
    EXPECT_TRUE(parse_host_port(ok)) << ok;
  }
}

TEST(ParseHostPort, RejectsBadForms) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (Case c : {Case{"", "empty"}, {"host", "missing port"}, {"host:", "invalid port"},
                 {":80", "empty host"}, {"host:0", "port out of range 1..65535"},
                 {"host:65536", "port out of range 1..65535"}, {"host:8o", "invalid port"},
                 {"host:+80", "invalid port"}, {"fd00::1:80", "IPv6 literal must be in brackets"},
                 {"[fd00::1]", "missing port"}, {"[fd00::1:80", "missing ']'"},
                 {"[zz::1]:80", "invalid IPv6 literal"}, {"1.2.3.999:80", "invalid IPv4 literal"},
                 {"user@host:80", "invalid character in host"},
                 {"host/path:80", "invalid character in host"},
                 {"ho st:80", "invalid character in host"}, {"-host:80", "host name label starts with '-'"},
                 {"a..b:80", "empty label in host name"}}) {
    std::string why;
    EXPECT_FALSE(parse_host_port(c.text, &why)) << c.text;
    EXPECT_EQ(why, c.why) << c.text;
  }
}

TEST(ParseHostPort, PortZeroOnlyForListen) {
  EXPECT_FALSE(parse_host_port("127.0.0.1:0"));
  EXPECT_TRUE(parse_host_port("127.0.0.1:0", nullptr, /*allow_port_zero=*/true));
}
