#include "gateway/proxy_protocol.h"

#include <netinet/in.h>

#include <cstring>


namespace hbone::gateway {
namespace {

constexpr char kSignature[] = "\r\n\r\n\0\r\nQUIT\n";  // 12 bytes
constexpr uint8_t kVersion2Proxy = 0x21;
constexpr uint8_t kTcp4 = 0x11;
constexpr uint8_t kTcp6 = 0x21;
constexpr uint8_t kTlvSpiffeId = 0xD0;

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

// The address as 16 IPv6 bytes (IPv4 mapped) and its port, both in network order.
void as_ipv6(const sockaddr* addr, in6_addr& ip, uint16_t& port) {
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    ip = in6->sin6_addr;
    port = in6->sin6_port;
    return;
  }
  const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
  std::memset(&ip, 0, sizeof(ip));
  ip.s6_addr[10] = ip.s6_addr[11] = 0xff;
  std::memcpy(&ip.s6_addr[12], &in->sin_addr, 4);
  port = in->sin_port;
}

void put_raw(std::string& out, const void* bytes, size_t n) { out.append(static_cast<const char*>(bytes), n); }

}  // namespace

std::string proxy_v2_header(const sockaddr* source, const sockaddr* destination, std::string_view spiffe_id) {
  bool v4 = source->sa_family == AF_INET && destination->sa_family == AF_INET;
  std::string addresses;
  if (v4) {
    const auto* src = reinterpret_cast<const sockaddr_in*>(source);
    const auto* dst = reinterpret_cast<const sockaddr_in*>(destination);
    put_raw(addresses, &src->sin_addr, 4);
    put_raw(addresses, &dst->sin_addr, 4);
    put_raw(addresses, &src->sin_port, 2);
    put_raw(addresses, &dst->sin_port, 2);
  } else {
    in6_addr src_ip, dst_ip;
    uint16_t src_port, dst_port;
    as_ipv6(source, src_ip, src_port);
    as_ipv6(destination, dst_ip, dst_port);
    put_raw(addresses, &src_ip, 16);
    put_raw(addresses, &dst_ip, 16);
    put_raw(addresses, &src_port, 2);
    put_raw(addresses, &dst_port, 2);
  }
  if (!spiffe_id.empty()) {
    addresses.push_back(static_cast<char>(kTlvSpiffeId));
    put16(addresses, static_cast<uint16_t>(spiffe_id.size()));
    addresses.append(spiffe_id);
  }
  std::string header(kSignature, 12);
  header.push_back(static_cast<char>(kVersion2Proxy));
  header.push_back(static_cast<char>(v4 ? kTcp4 : kTcp6));
  put16(header, static_cast<uint16_t>(addresses.size()));
  return header + addresses;
}

}  // namespace hbone::gateway
