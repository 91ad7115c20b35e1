#include "address/destination_policy.h"

#include <algorithm>
#include <stdexcept>

namespace hbone::address {

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
    policy.exact_.push_back(target->canonical());
  }
  return policy;
}

bool DestinationPolicy::allows_authority(const HostPort& target) const {
  return std::find(exact_.begin(), exact_.end(), target.canonical()) != exact_.end();
}

bool DestinationPolicy::allows_address(const sockaddr* addr) const {
  return std::any_of(cidrs_.begin(), cidrs_.end(),
                     [addr](const Cidr& cidr) { return cidr.contains(addr); });
}

bool DestinationPolicy::names_within(const sockaddr* addr, const Cidr& block) const {
  return std::any_of(cidrs_.begin(), cidrs_.end(), [&](const Cidr& cidr) {
    return cidr.family == block.family && cidr.prefix >= block.prefix && cidr.contains(addr);
  });
}

}  // namespace hbone::address
