#include "gateway/forwarded.h"

#include <gtest/gtest.h>

#include "net/socket_ops.h"
#include "support/socket_address.h"

using namespace hbone;
using gateway::ForwardedFor;
using Outcome = gateway::ForwardedFor::Outcome;

namespace {

// "ip:port" the header names, or what else came of it.
std::string named(std::string_view header) {
  ForwardedFor f = gateway::forwarded_for(header);
  switch (f.outcome) {
    case Outcome::absent: return "absent";
    case Outcome::malformed: return "malformed";
    case Outcome::address: return net::format_address(test::sa(f.address));
  }
  return "?";
}

}  // namespace

TEST(Forwarded, TheForOfTheLastElement) {
  EXPECT_EQ(named("for=\"198.18.0.1:5000\""), "198.18.0.1:5000");  // what hbone's client sends
  EXPECT_EQ(named("for=198.18.0.1"), "198.18.0.1:0");                  // a token: no port
  EXPECT_EQ(named("by=x;for=\"[fd00::1]:80\""), "[fd00::1]:80");
  EXPECT_EQ(named("For=\"[2001:db8:cafe::17]\""), "[2001:db8:cafe::17]:0");  // names in any case
  // RFC 7239 §4: proxies append; the last element is the nearest one's.
  EXPECT_EQ(named("for=198.18.0.9, for=\"198.18.0.1:5000\""), "198.18.0.1:5000");
  EXPECT_EQ(named("for=198.18.0.9;proto=http, for=198.18.0.1 ;by=\"[::1]:1\""), "198.18.0.1:0");
  EXPECT_EQ(named("for=\"a,b\", for=198.18.0.2"), "198.18.0.2:0");  // a comma inside quotes splits nothing
}

TEST(Forwarded, NothingElseIsTakenForAnAddress) {
  EXPECT_EQ(named(""), "absent");
  EXPECT_EQ(named("proto=https;by=203.0.113.43"), "absent");
  EXPECT_EQ(named("for=198.18.0.1, proto=https"), "absent");  // the last element names no client
  // The finding: a substring search took "xfor=" for "for=".
  EXPECT_EQ(named("xfor=\"10.0.0.1:1\""), "absent");
  EXPECT_EQ(named("for=10.0.0.1:1"), "malformed");  // ':' is not a token character: quote it (§6)
  EXPECT_EQ(named("for=\"[fd00::1]:80"), "malformed");  // an open quote
  EXPECT_EQ(named("for=\"fd00::1\""), "malformed");     // IPv6 without brackets
  EXPECT_EQ(named("for=\"[fd00::1]x\""), "malformed");
  EXPECT_EQ(named("for=unknown"), "malformed");  // §6.2: no address
  EXPECT_EQ(named("for=_hidden"), "malformed");  // §6.3: obfuscated
  EXPECT_EQ(named("for=\"198.18.0.1:_port\""), "malformed");
  EXPECT_EQ(named("for=\"198.18.0.1:65536\""), "malformed");
  EXPECT_EQ(named("for=198.18.0.1;for=198.18.0.2"), "malformed");  // §4: once per element
  EXPECT_EQ(named("for"), "malformed");
  EXPECT_EQ(named("f o r=1.2.3.4"), "malformed");
  EXPECT_EQ(named("for=\"1.2.3.4\"x"), "malformed");
}
