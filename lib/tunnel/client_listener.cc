#include "tunnel/client_listener.h"

#include "net/socket_ops.h"

namespace hbone::tunnel {

ClientListener::ClientListener(net::EventLoop& loop, pool::ConnectionPool& pool, net::Fd listener,
                               net::HostPort target)
    : pool_(pool),
      target_(std::move(target)),
      acceptor_(loop, std::move(listener), [this](net::Fd fd, const sockaddr_storage& peer) {
        pool_.open_tunnel(std::move(fd),
                          {"client", net::format_address(reinterpret_cast<const sockaddr*>(&peer)),
                           target_.to_string()});
      }) {}

}  // namespace hbone::tunnel
