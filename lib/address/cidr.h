#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hbone::address {

// An IPv4 or IPv6 prefix: "10.0.0.0/8", "fd00::/16".
struct Cidr {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> address{};
  unsigned prefix = 0;

  // An IPv4-mapped prefix (::ffff:10.0.0.0/104) is read as the IPv4 one it spells
  // (10.0.0.0/8): addresses are matched unmapped, so as written it would match nothing.
  // One shorter than /96 mixes both families and is refused.
  static std::optional<Cidr> parse(std::string_view text);
  // The one-address prefix of `addr` (/32 or /128).
  static Cidr host(const sockaddr* addr);
  bool contains(const sockaddr* addr) const;
  std::string to_string() const;
};

}  // namespace hbone::address
