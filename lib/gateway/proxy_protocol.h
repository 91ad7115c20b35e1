#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

namespace hbone::gateway {

// PROXY protocol v2 (haproxy's proxy-protocol.txt §2.2): the header the gateway sends a
// target first (gateway.proxy_protocol: v2), so the backend or an egress audit log sees
// the original client address and, in TLV 0xD0 (as ztunnel and Envoy send it), the
// peer's SPIFFE id. Mixed families are sent as IPv6 (IPv4-mapped).
std::string proxy_v2_header(const sockaddr* source, const sockaddr* destination, std::string_view spiffe_id);

}  // namespace hbone::gateway
