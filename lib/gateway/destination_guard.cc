#include "gateway/destination_guard.h"

#include "address/reserved.h"
#include "net/socket_ops.h"

namespace hbone::gateway {
namespace {

DestinationRefusal refusal_of(address::Reserved kind) {
  switch (kind) {
    case address::Reserved::loopback: return DestinationRefusal::loopback;
    case address::Reserved::link_local: return DestinationRefusal::link_local;
    case address::Reserved::unspecified: return DestinationRefusal::unspecified;
    case address::Reserved::metadata: return DestinationRefusal::metadata;
    case address::Reserved::none: break;
  }
  return DestinationRefusal::none;
}

}  // namespace

DestinationRefusal DestinationGuard::check(const sockaddr* addr, std::string& why) const {
  sockaddr_storage storage = address::unmapped(addr);
  const auto* plain = reinterpret_cast<const sockaddr*>(&storage);
  std::string text = net::format_address(addr);
  if (own.reaches(plain)) {
    why = text + " is one of hbone's own listeners";
    return DestinationRefusal::own_listener;
  }
  if (const address::ReservedBlock* block = address::reserved_block(plain)) {
    if (authority_listed || allowed.names_within(plain, block->cidr)) return DestinationRefusal::none;
    why = text + " is a " + address::to_string(block->kind) + " address (" + block->cidr.to_string() +
          "), dialled only when allowed_destinations names it";
    return refusal_of(block->kind);
  }
  bool workload_address = workload && net::same_ip(workload, plain);
  if (own.host().holds(plain) && !workload_address && !authority_listed &&
      !allowed.names_within(plain, address::Cidr::host(plain))) {
    why = text + " is an address of this host, dialled only when allowed_destinations names it exactly";
    return DestinationRefusal::host_address;
  }
  if (allowed.allows_any() || authority_listed || allowed.allows_address(plain)) return DestinationRefusal::none;
  why = text + " is not in allowed_destinations";
  return DestinationRefusal::not_allowed;
}

}  // namespace hbone::gateway
