#include "net/own_listeners.h"

#include <netinet/in.h>

#include <cstring>
#include <optional>

#include "address/reserved.h"
#include "net/socket_ops.h"

namespace hbone::net {
namespace {

bool is_unspecified(const sockaddr* a) {
  if (a->sa_family == AF_INET) return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr == INADDR_ANY;
  return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr);
}

// A bound address as kept: IPv4-mapped ones as plain IPv4.
std::optional<sockaddr_storage> plain_address(const address::HostPort& bound) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!to_sockaddr(bound, addr, len)) return std::nullopt;
  return address::unmapped(reinterpret_cast<sockaddr*>(&addr));
}

}  // namespace

bool OwnListeners::is_local(const sockaddr* addr) const {
  const address::ReservedBlock* reserved = address::reserved_block(addr);
  if (reserved && (reserved->kind == address::Reserved::loopback || reserved->kind == address::Reserved::unspecified)) {
    return true;
  }
  return host_.holds(addr);
}

void OwnListeners::add(const address::HostPort& bound) {
  if (auto addr = plain_address(bound)) listeners_.push_back(*addr);
}

void OwnListeners::remove(const address::HostPort& bound) {
  auto gone = plain_address(bound);
  if (!gone) return;
  std::erase_if(listeners_, [&](const sockaddr_storage& s) {
    return same_endpoint(reinterpret_cast<const sockaddr*>(&s), reinterpret_cast<const sockaddr*>(&*gone));
  });
}

bool OwnListeners::reaches(const sockaddr* target) const {
  sockaddr_storage plain_storage = address::unmapped(target);
  const auto* plain = reinterpret_cast<const sockaddr*>(&plain_storage);
  for (const sockaddr_storage& storage : listeners_) {
    const auto* own = reinterpret_cast<const sockaddr*>(&storage);
    if (port_of(own) != port_of(plain)) continue;
    if (is_unspecified(own)) {
      // [::] is dual-stack (listen_on turns IPV6_V6ONLY off): it takes IPv4 too.
      bool family_ok = own->sa_family == AF_INET6 || plain->sa_family == AF_INET;
      if (family_ok && is_local(plain)) return true;
    } else if (same_ip(own, plain) || (own->sa_family == plain->sa_family && is_unspecified(plain))) {
      return true;
    }
  }
  return false;
}

}  // namespace hbone::net
