#include "client/client_listener.h"

#include <spdlog/spdlog.h>

#include "net/socket_ops.h"

namespace hbone::client {

ClientListener::ClientListener(net::WorkerContext& worker, tunnel::Admission& admission,
                               ConnectionPool& pool, net::Fd listener, address::HostPort target)
    : worker_(worker),
      admission_(admission),
      pool_(pool),
      target_(std::move(target)),
      acceptor_(worker.loop, std::move(listener),
                [this](net::Fd fd, const sockaddr_storage& peer) { on_accept(std::move(fd), peer); }) {}

void ClientListener::on_accept(net::Fd fd, const sockaddr_storage& peer) {
  std::string source = net::format_address(reinterpret_cast<const sockaddr*>(&peer));
  tunnel::Admission::Refusal refusal;
  tunnel::Admission::Ticket ticket = admission_.admit("", refusal);
  if (!ticket) {
    // Refused before any byte: the application sees a reset and may retry elsewhere.
    worker_.metrics.limit_rejections[metrics::kClient][refusal].add();
    spdlog::debug("client: {} refused: {} reached", source, metrics::label(refusal));
    net::close_with_reset(fd);
    return;
  }
  pool_.open_tunnel(std::move(fd), {"client", std::move(source), target_.to_string(), 0, std::move(ticket)});
}

}  // namespace hbone::client
