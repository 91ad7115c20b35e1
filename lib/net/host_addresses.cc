#include "net/host_addresses.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include "address/reserved.h"
#include "net/socket_ops.h"

namespace hbone::net {

HostAddresses::HostAddresses(std::vector<sockaddr_storage> addresses) : addresses_(std::move(addresses)) {}

HostAddresses HostAddresses::read() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) throw std::system_error(errno, std::generic_category(), "getifaddrs");
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owned(list, ::freeifaddrs);
  std::vector<sockaddr_storage> out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
    out.push_back(address::unmapped(i->ifa_addr));
  }
  return HostAddresses(std::move(out));
}

bool HostAddresses::holds(const sockaddr* addr) const {
  sockaddr_storage plain = address::unmapped(addr);
  for (const sockaddr_storage& own : addresses_) {
    if (same_ip(reinterpret_cast<const sockaddr*>(&own), reinterpret_cast<const sockaddr*>(&plain))) return true;
  }
  return false;
}

}  // namespace hbone::net
