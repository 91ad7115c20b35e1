#include "address/host_port.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace hbone::address {
namespace {

bool fail(std::string* why, const char* reason) {
  if (why) *why = reason;
  return false;
}

bool valid_dns_name(std::string_view host, std::string* why) {
  if (host.size() > 253) return fail(why, "host name longer than 253 characters");
  size_t label_len = 0;
  char prev = '.';
  for (char c : host) {
    if (c == '.') {
      if (label_len == 0) return fail(why, "empty label in host name");
      if (prev == '-') return fail(why, "host name label ends with '-'");
      label_len = 0;
    } else {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_';
      if (!ok) return fail(why, "invalid character in host");
      if (label_len == 0 && c == '-') return fail(why, "host name label starts with '-'");
      if (++label_len > 63) return fail(why, "host name label longer than 63 characters");
    }
    prev = c;
  }
  if (prev == '-') return fail(why, "host name label ends with '-'");
  return true;
}

}  // namespace

bool is_ipv4_literal(std::string_view host) {
  in_addr addr;
  return inet_pton(AF_INET, std::string(host).c_str(), &addr) == 1;
}

bool is_ipv6_literal(std::string_view host) {
  in6_addr addr;
  return inet_pton(AF_INET6, std::string(host).c_str(), &addr) == 1;
}

std::string HostPort::to_string() const {
  std::string out = is_ipv6() ? "[" + host + "]" : host;
  return out + ":" + std::to_string(port);
}

HostPort HostPort::canonical() const {
  if (is_ipv6() || is_ipv4_literal(host)) return *this;
  HostPort out{host, port};
  std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  if (out.host.size() > 1 && out.host.back() == '.') out.host.pop_back();
  return out;
}

std::optional<HostPort> parse_host_port(std::string_view text, std::string* why,
                                        bool allow_port_zero) {
  if (text.empty()) return fail(why, "empty"), std::nullopt;
  std::string_view host;
  std::string_view port_text;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail(why, "missing ']'"), std::nullopt;
    host = text.substr(1, close - 1);
    if (!is_ipv6_literal(host)) return fail(why, "invalid IPv6 literal"), std::nullopt;
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return fail(why, "missing port"), std::nullopt;
    port_text = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(why, "missing port"), std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail(why, "IPv6 literal must be in brackets"), std::nullopt;
    }
    if (host.empty()) return fail(why, "empty host"), std::nullopt;
    // Digits and dots only means an IPv4 literal was meant: do not let "1.2.3.999" pass as DNS.
    bool numeric = std::all_of(host.begin(), host.end(),
                               [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (numeric ? !is_ipv4_literal(host) : !valid_dns_name(host, why)) {
      if (numeric) fail(why, "invalid IPv4 literal");
      return std::nullopt;
    }
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fail(why, "invalid port"), std::nullopt;
  }
  unsigned port = 0;
  std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if ((port == 0 && !allow_port_zero) || port > 65535) return fail(why, "port out of range 1..65535"), std::nullopt;
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

}  // namespace hbone::address
