#pragma once

#include <sys/socket.h>

#include <optional>

#include "address/cidr.h"

namespace hbone::address {

// Addresses a gateway must not dial for a peer unless told to by name: they reach the
// gateway's own host (loopback, unspecified) or its link (link-local, where clouds serve
// instance metadata and credentials). An open egress gateway dialling them is a
// server-side request forgery (Smokescreen refuses them for the same reason).
enum class Reserved { none, loopback, link_local, unspecified, metadata };

struct ReservedBlock {
  Cidr cidr;
  Reserved kind;
};

// The reserved block `addr` lies in, or nullptr. IPv6 addresses that carry an IPv4 one
// (IPv4-mapped ::ffff:127.0.0.1, NAT64 64:ff9b::7f00:1, IPv4-compatible ::127.0.0.1) are
// judged by the IPv4 address too: a NAT64 gateway or a dual stack delivers them there.
const ReservedBlock* reserved_block(const sockaddr* addr);

const char* to_string(Reserved kind);

// `addr` with an IPv4-mapped IPv6 address turned into its IPv4 form; others as they are.
sockaddr_storage unmapped(const sockaddr* addr);

// The IPv4 address a NAT64 (64:ff9b::/96) or IPv4-compatible (::a.b.c.d) address carries.
std::optional<sockaddr_storage> embedded_ipv4(const sockaddr* addr);

}  // namespace hbone::address
