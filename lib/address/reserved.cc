#include "address/reserved.h"

#include <netinet/in.h>

#include <array>
#include <cstring>

namespace hbone::address {
namespace {

ReservedBlock block(const char* cidr, Reserved kind) { return {*Cidr::parse(cidr), kind}; }

const std::array<ReservedBlock, 7>& blocks() {
  static const std::array<ReservedBlock, 7> all = {
      block("127.0.0.0/8", Reserved::loopback),
      block("::1/128", Reserved::loopback),
      block("169.254.0.0/16", Reserved::link_local),  // 169.254.169.254: AWS, GCP, Azure metadata
      block("fe80::/10", Reserved::link_local),
      block("0.0.0.0/8", Reserved::unspecified),  // connect() to 0.0.0.0 reaches this host
      block("::/128", Reserved::unspecified),
      block("fd00:ec2::254/128", Reserved::metadata),  // AWS instance metadata over IPv6
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

const ReservedBlock* reserved_block(const sockaddr* addr) {
  sockaddr_storage plain = unmapped(addr);
  for (const ReservedBlock& b : blocks()) {
    if (b.cidr.contains(reinterpret_cast<const sockaddr*>(&plain))) return &b;
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
