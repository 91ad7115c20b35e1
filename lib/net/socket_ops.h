#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "net/socket_options.h"
#include "net/fd.h"
#include "address/host_port.h"

namespace hbone::net {

// Applies socket.send_buffer / recv_buffer and TCP_NODELAY (tunnels carry interactive
// traffic too; batching is done by us, not by Nagle).
void apply_socket_options(int fd, const SocketOptions& options);

// On an HBONE connection: TCP keepalive and TCP_USER_TIMEOUT (socket.keepalive_*,
// socket.user_timeout), so a peer gone silent (behind a NAT, power loss) is noticed; and
// TCP_NOTSENT_LOWAT (socket.notsent_lowat): the socket takes writes and reports writable
// only while fewer unsent bytes than that are queued in it.
void apply_hbone_options(int fd, const SocketOptions& options);

// Closes with RST instead of FIN (SO_LINGER 0): how a reset travels across the tunnel.
void close_with_reset(Fd& fd);

// The pending error of a socket (SO_ERROR), e.g. why a connect failed: libuv reports
// POLLERR only as EBADF. 0 when there is none.
int socket_error(int fd);

// Where a captured connection was headed: with `transparent` (TPROXY) the accepted socket's
// own local address, else netfilter's SO_ORIGINAL_DST (iptables REDIRECT; IPv4 and IPv6).
// False when the kernel has none (e.g. no conntrack entry).
bool original_destination(int fd, bool transparent, sockaddr_storage& out);

// IP_TRANSPARENT (IPV6_TRANSPARENT for AF_INET6): the socket may use addresses that are not
// this host's (TPROXY listeners, dials from a peer's address); needs CAP_NET_ADMIN. False,
// errno set, when refused.
bool set_transparent(int fd, int family);

// The port of an IPv4 or IPv6 socket address, in host order.
uint16_t port_of(const sockaddr* addr);

// Same family, address and port.
bool same_endpoint(const sockaddr* a, const sockaddr* b);
// Same family and address, ports aside.
bool same_ip(const sockaddr* a, const sockaddr* b);

// "ip:port" of a socket address, IPv6 bracketed.
std::string format_address(const sockaddr* addr);

// The HostPort of a socket address.
address::HostPort host_port_of(const sockaddr* addr);

// Resolves an IP-literal HostPort; false when host is not a literal.
bool to_sockaddr(const address::HostPort& hp, sockaddr_storage& out, socklen_t& len);

}  // namespace hbone::net
