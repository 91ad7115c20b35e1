#include "address/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace hbone::address {

std::optional<Cidr> Cidr::parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string ip(text.substr(0, slash));
  std::string_view bits = text.substr(slash + 1);
  Cidr cidr;
  unsigned max_prefix = 0;
  if (inet_pton(AF_INET, ip.c_str(), cidr.address.data()) == 1) {
    cidr.family = AF_INET;
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, ip.c_str(), cidr.address.data()) == 1) {
    cidr.family = AF_INET6;
    max_prefix = 128;
  } else {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), cidr.prefix);
  if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() ||
      cidr.prefix > max_prefix) {
    return std::nullopt;
  }
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (cidr.family == AF_INET6 && std::memcmp(cidr.address.data(), kMapped, 12) == 0) {
    if (cidr.prefix < 96) return std::nullopt;
    Cidr v4;
    v4.family = AF_INET;
    std::memcpy(v4.address.data(), cidr.address.data() + 12, 4);
    v4.prefix = cidr.prefix - 96;
    return v4;
  }
  return cidr;
}

Cidr Cidr::host(const sockaddr* addr) {
  Cidr cidr;
  cidr.family = addr->sa_family;
  if (addr->sa_family == AF_INET) {
    std::memcpy(cidr.address.data(), &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, 4);
    cidr.prefix = 32;
  } else {
    std::memcpy(cidr.address.data(), &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, 16);
    cidr.prefix = 128;
  }
  return cidr;
}

bool Cidr::contains(const sockaddr* addr) const {
  const uint8_t* bytes = nullptr;
  if (addr->sa_family == AF_INET && family == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(addr)->sin_addr);
  } else if (addr->sa_family == AF_INET6 && family == AF_INET6) {
    bytes =
        reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr);
  } else {
    return false;
  }
  unsigned full = prefix / 8;
  if (std::memcmp(bytes, address.data(), full) != 0) return false;
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[full] & mask) == (address[full] & mask);
}

std::string Cidr::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, address.data(), text, sizeof(text));
  return std::string(text) + "/" + std::to_string(prefix);
}

}  // namespace hbone::address
