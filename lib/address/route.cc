#include "address/route.h"

#include <netinet/in.h>

#include <algorithm>
#include <charconv>

namespace hbone::address {
namespace {

constexpr std::string_view kDestinationPrefix = "destination:";

uint16_t port_of(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  if (addr->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port);
  return 0;
}

}  // namespace

std::optional<RouteVia> RouteVia::parse(std::string_view text, std::string* why) {
  RouteVia via;
  if (text == "direct") {
    via.kind = Kind::direct;
    return via;
  }
  if (text.substr(0, kDestinationPrefix.size()) == kDestinationPrefix) {
    std::string_view digits = text.substr(kDestinationPrefix.size());
    unsigned port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
        port > 65535) {
      if (why) *why = "destination:PORT needs a port 1..65535";
      return std::nullopt;
    }
    via.kind = Kind::destination;
    via.port = static_cast<uint16_t>(port);
    return via;
  }
  std::string reason;
  auto gateway = parse_host_port(text, &reason);
  if (!gateway) {
    if (why) *why = "want host:port, destination:PORT or direct (" + reason + ")";
    return std::nullopt;
  }
  via.kind = Kind::gateway;
  via.gateway = *gateway;
  return via;
}

std::string RouteVia::to_string() const {
  switch (kind) {
    case Kind::direct: return "direct";
    case Kind::destination: return std::string(kDestinationPrefix) + std::to_string(port);
    case Kind::gateway: break;
  }
  return gateway.to_string();
}

bool Route::matches(const sockaddr* destination) const {
  if (!cidr.contains(destination)) return false;
  return ports.empty() || std::find(ports.begin(), ports.end(), port_of(destination)) != ports.end();
}

std::string Route::describe() const {
  std::string text = cidr.to_string();
  for (size_t i = 0; i < ports.size(); ++i) text += (i ? "," : ":") + std::to_string(ports[i]);
  text += " via " + via.to_string();
  return through ? text + " through " + through->to_string() : text;
}

const Route* find_route(const std::vector<Route>& routes, const sockaddr* destination) {
  auto it = std::find_if(routes.begin(), routes.end(),
                         [destination](const Route& r) { return r.matches(destination); });
  return it == routes.end() ? nullptr : &*it;
}

}  // namespace hbone::address
