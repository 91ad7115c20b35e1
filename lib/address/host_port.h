#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hbone::address {

// A CONNECT authority or a listen address: "10.0.0.1:80", "[fd00::1]:443", "svc.ns:8080".
struct HostPort {
  std::string host;  // IPv6 without brackets
  uint16_t port = 0;

  bool is_ipv6() const { return host.find(':') != std::string::npos; }
  std::string to_string() const;  // brackets IPv6 again
  // The form a host is matched, logged and counted in: a DNS name in lower case without
  // the one trailing dot that makes it absolute ("Blocked.Example." and "blocked.example"
  // name the same host, RFC 4343, RFC 1034 §3.1); an IP literal as it is.
  HostPort canonical() const;
  bool operator==(const HostPort&) const = default;
};

// Strict RFC 9110 authority-form with a mandatory non-zero port: no userinfo, no path,
// no whitespace; hosts are IPv4 literals, bracketed IPv6 literals or DNS names.
// On failure returns nullopt and, when `why` is given, a short reason. Listen addresses
// may ask for port 0 (any free port).
std::optional<HostPort> parse_host_port(std::string_view text, std::string* why = nullptr,
                                        bool allow_port_zero = false);

bool is_ipv4_literal(std::string_view host);
bool is_ipv6_literal(std::string_view host);

}  // namespace hbone::address
