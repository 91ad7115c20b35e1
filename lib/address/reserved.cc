#include "address/reserved.h"

#include <netinet/in.h>

#include <array>
#include <cstring>

namespace hbone::address {
namespace {

ReservedBlock block(const char* cidr, Reserved kind) { return {*Cidr::parse(cidr), kind}; }

const std::array<ReservedBlock, 10>& blocks() {
  static const std::array<ReservedBlock, 10> all = {
      block("127.0.0.0/8", Reserved::loopback),
      block("::1/128", Reserved::loopback),
      block("169.254.0.0/16", Reserved::link_local),  // 169.254.169.254: AWS, GCP, Azure metadata
      block("fe80::/10", Reserved::link_local),
      block("0.0.0.0/8", Reserved::unspecified),  // connect() to 0.0.0.0 reaches this host
      block("::/128", Reserved::unspecified),
      block("fd00:ec2::254/128", Reserved::metadata),  // AWS instance metadata over IPv6
      block("fd20:ce::254/128", Reserved::metadata),   // GCP instance metadata over IPv6
      block("100.100.100.200/32", Reserved::metadata),  // Alibaba Cloud instance metadata
      block("168.63.129.16/32", Reserved::metadata),    // Azure's wireserver (agent, DNS, health)
  };
  return all;
}

}  // namespace

sockaddr_storage unmapped(const sockaddr* addr) {
  sockaddr_storage out{};
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      auto* in = reinterpret_cast<sockaddr_in*>(&out);
      in->sin_family = AF_INET;
      in->sin_port = in6->sin6_port;
      std::memcpy(&in->sin_addr, in6->sin6_addr.s6_addr + 12, 4);
      return out;
    }
    std::memcpy(&out, addr, sizeof(sockaddr_in6));
    return out;
  }
  if (addr->sa_family == AF_INET) std::memcpy(&out, addr, sizeof(sockaddr_in));
  return out;
}

std::optional<sockaddr_storage> embedded_ipv4(const sockaddr* addr) {
  if (addr->sa_family != AF_INET6) return std::nullopt;
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
  const uint8_t* b = in6->sin6_addr.s6_addr;
  // 64:ff9b::/96 (RFC 6052's well-known NAT64 prefix) and ::/96 (IPv4-compatible, RFC 4291
  // §2.5.5.1, deprecated but still routed by some stacks); :: and ::1 are IPv6's own.
  static constexpr uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b};
  static constexpr uint8_t kZero[12] = {};
  bool nat64 = std::memcmp(b, kNat64, 12) == 0;
  bool compatible = std::memcmp(b, kZero, 12) == 0 && (b[12] | b[13] | b[14]) != 0;
  if (!nat64 && !compatible) return std::nullopt;
  sockaddr_storage out{};
  auto* in = reinterpret_cast<sockaddr_in*>(&out);
  in->sin_family = AF_INET;
  in->sin_port = in6->sin6_port;
  std::memcpy(&in->sin_addr, b + 12, 4);
  return out;
}

const ReservedBlock* reserved_block(const sockaddr* addr) {
  sockaddr_storage plain = unmapped(addr);
  std::optional<sockaddr_storage> inner = embedded_ipv4(reinterpret_cast<const sockaddr*>(&plain));
  for (const sockaddr_storage* judged : {&plain, inner ? &*inner : nullptr}) {
    if (!judged) continue;
    for (const ReservedBlock& b : blocks()) {
      if (b.cidr.contains(reinterpret_cast<const sockaddr*>(judged))) return &b;
    }
  }
  return nullptr;
}

const char* to_string(Reserved kind) {
  switch (kind) {
    case Reserved::none: return "none";
    case Reserved::loopback: return "loopback";
    case Reserved::link_local: return "link-local";
    case Reserved::unspecified: return "unspecified";
    case Reserved::metadata: return "metadata";
  }
  return "reserved";
}

}  // namespace hbone::address
