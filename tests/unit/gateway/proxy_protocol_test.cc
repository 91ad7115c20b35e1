#include "gateway/proxy_protocol.h"

#include <gtest/gtest.h>

#include "net/socket_ops.h"
#include "support/socket_address.h"

using namespace hbone;

namespace {
std::string hex(const std::string& bytes) {
  std::string out;
  char buf[3];
  for (unsigned char c : bytes) {
    snprintf(buf, sizeof(buf), "%02x", c);
    out += buf;
  }
  return out;
}
}  // namespace

TEST(ProxyProtocol, Ipv4WithSpiffeTlv) {
  auto src = hbone::test::socket_address("198.18.0.1:40000"), dst = hbone::test::socket_address("198.18.0.2:8080");
  std::string h = gateway::proxy_v2_header(hbone::test::sa(src), hbone::test::sa(dst), "spiffe://a/b");
  // signature, v2 PROXY, TCP4, length 12 + 3 + 12, addresses, ports, TLV 0xD0.
  EXPECT_EQ(hex(h),
            "0d0a0d0a000d0a515549540a" "21" "11" "001b"
            "c6120001" "c6120002" "9c40" "1f90"
            "d0" "000c" + hex("spiffe://a/b"));
}

TEST(ProxyProtocol, MixedFamiliesGoAsMappedIpv6) {
  auto src = hbone::test::socket_address("10.0.0.1:1"), dst = hbone::test::socket_address("[fd00::2]:443");
  std::string h = gateway::proxy_v2_header(hbone::test::sa(src), hbone::test::sa(dst), "");
  ASSERT_EQ(h.size(), 16u + 36u);
  EXPECT_EQ(hex(h.substr(12, 4)), "21210024");
  EXPECT_EQ(hex(h.substr(16, 16)), "00000000000000000000ffff0a000001");
  EXPECT_EQ(hex(h.substr(48, 4)), "000101bb");
}
