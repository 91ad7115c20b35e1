#include "gateway/forwarded.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

namespace hbone::gateway {
namespace {

// RFC 9110 §5.6.2 tchar.
bool tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), tchar); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `s` split on `sep` outside quoted strings; nullopt when a quote is left open.
std::optional<std::vector<std::string_view>> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (quoted && s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (quoted) return std::nullopt;
  parts.push_back(s.substr(start));
  return parts;
}

// A value: a token, or a quoted-string unescaped (RFC 9110 §5.6.4).
std::optional<std::string> value_of(std::string_view v) {
  if (token(v)) return std::string(v);
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::nullopt;
  std::string out;
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\') {
      if (++i + 1 >= v.size()) return std::nullopt;
    } else if (v[i] == '"') {
      return std::nullopt;
    }
    out.push_back(v[i]);
  }
  return out;
}

// RFC 7239 §6: node = nodename [ ":" node-port ], an IPv6 nodename in brackets.
std::optional<sockaddr_storage> node_address(std::string_view node) {
  std::string_view host = node, port;
  if (node.starts_with('[')) {
    size_t close = node.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = node.substr(1, close - 1);
    std::string_view rest = node.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else if (size_t colon = node.find(':'); colon != std::string_view::npos) {
    host = node.substr(0, colon);
    port = node.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  uint16_t port_number = 0;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (ec != std::errc() || end != port.data() + port.size()) return std::nullopt;  // "_obfport" too
  }
  sockaddr_storage out{};
  std::string text(host);
  bool v6 = node.starts_with('[');
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) != 1) return std::nullopt;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port_number);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    if (inet_pton(AF_INET, text.c_str(), &in->sin_addr) != 1) return std::nullopt;  // "unknown", "_hidden"
    in->sin_family = AF_INET;
    in->sin_port = htons(port_number);
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

}  // namespace

ForwardedFor forwarded_for(std::string_view header) {
  ForwardedFor result;
  if (trim(header).empty()) return result;
  result.outcome = ForwardedFor::Outcome::malformed;
  auto elements = split(header, ',');
  if (!elements) return result;
  auto pairs = split(elements->back(), ';');
  if (!pairs) return result;
  std::optional<std::string> node;
  for (std::string_view pair : *pairs) {
    pair = trim(pair);
    if (pair.empty()) continue;  // RFC 7239 §4: pairs are optional between semicolons
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || !token(pair.substr(0, eq))) return result;
    auto value = value_of(pair.substr(eq + 1));
    if (!value) return result;
    if (!iequals(pair.substr(0, eq), "for")) continue;
    if (node) return result;  // §4: each parameter at most once per element
    node = std::move(value);
  }
  if (!node) {
    result.outcome = ForwardedFor::Outcome::absent;
    return result;
  }
  auto address = node_address(*node);
  if (!address) return result;
  result.outcome = ForwardedFor::Outcome::address;
  result.address = *address;
  return result;
}

}  // namespace hbone::gateway
