#pragma once

#include <sys/socket.h>

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

// The reserved block `addr` lies in, or nullptr. IPv4-mapped IPv6 addresses
// (::ffff:127.0.0.1) are judged as the IPv4 address they carry.
const ReservedBlock* reserved_block(const sockaddr* addr);

const char* to_string(Reserved kind);

// `addr` with an IPv4-mapped IPv6 address turned into its IPv4 form; others as they are.
sockaddr_storage unmapped(const sockaddr* addr);

}  // namespace hbone::address
