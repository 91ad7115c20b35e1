#include "address/destination_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

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

DestinationPolicy DestinationPolicy::parse(const std::vector<std::string>& entries) {
  DestinationPolicy policy;
  policy.entries_ = entries;
  for (const std::string& entry : entries) {
    if (entry.find('/') != std::string::npos) {
      auto cidr = Cidr::parse(entry);
      if (!cidr) throw std::invalid_argument("\"" + entry + "\" is not a valid CIDR");
      policy.cidrs_.push_back(*cidr);
      continue;
    }
    std::string why;
    auto target = parse_host_port(entry, &why);
    if (!target) {
      throw std::invalid_argument("\"" + entry + "\" is neither a CIDR nor host:port (" + why + ")");
    }
    policy.exact_.push_back(*target);
  }
  return policy;
}

bool DestinationPolicy::allows_authority(const HostPort& target) const {
  return std::find(exact_.begin(), exact_.end(), target) != exact_.end();
}

bool DestinationPolicy::allows_address(const sockaddr* addr) const {
  return std::any_of(cidrs_.begin(), cidrs_.end(),
                     [addr](const Cidr& cidr) { return cidr.contains(addr); });
}

}  // namespace hbone::address
