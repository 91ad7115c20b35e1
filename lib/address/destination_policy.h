#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "address/cidr.h"
#include "address/host_port.h"

namespace hbone::address {

// gateway.allowed_destinations: CIDRs match the address actually dialled (after DNS), so a
// name cannot smuggle a denied address; host:port entries match the CONNECT authority.
class DestinationPolicy {
 public:
  // Throws std::invalid_argument naming the bad entry.
  static DestinationPolicy parse(const std::vector<std::string>& entries);

  bool allows_any() const { return cidrs_.empty() && exact_.empty(); }
  // False when only host:port entries exist: an authority that matches none of them is
  // refused without resolving or dialling anything.
  bool checks_addresses() const { return !cidrs_.empty(); }
  bool allows_authority(const HostPort& target) const;
  bool allows_address(const sockaddr* addr) const;
  // True when a CIDR entry holding `addr` lies inside `block` (127.0.0.1/32 inside
  // 127.0.0.0/8): the operator named that reserved range, not just a wider one around it
  // (0.0.0.0/0 does not open loopback).
  bool names_within(const sockaddr* addr, const Cidr& block) const;
  // The entries as written (for dumps and comparisons).
  const std::vector<std::string>& entries() const { return entries_; }

 private:
  std::vector<std::string> entries_;
  std::vector<Cidr> cidrs_;
  std::vector<HostPort> exact_;
};

}  // namespace hbone::address
