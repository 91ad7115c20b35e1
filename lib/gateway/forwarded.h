#pragma once

#include <sys/socket.h>

#include <string_view>

namespace hbone::gateway {

// The client address a CONNECT's `Forwarded` header names (RFC 7239): the `for` parameter
// of its last element, the one the nearest proxy (the HBONE client) added. Parsed strictly:
// elements split on commas and pairs on semicolons outside quoted strings, each pair a
// token "=" token-or-quoted-string, parameter names in any case, one `for` per element;
// the node an IPv4 address or a bracketed IPv6 one (quoted, as RFC 7239 §6 requires for
// anything with a colon), with an optional numeric port. "unknown" and obfuscated nodes
// (§6.2, §6.3) name no address.
struct ForwardedFor {
  enum class Outcome { absent, address, malformed };
  Outcome outcome = Outcome::absent;
  sockaddr_storage address{};  // Outcome::address: the node (port 0 when none was given)
};

ForwardedFor forwarded_for(std::string_view header);

}  // namespace hbone::gateway
