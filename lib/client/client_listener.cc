#include "client/client_listener.h"

#include <spdlog/spdlog.h>

#include "net/socket_ops.h"

namespace hbone::client {

tunnel::Admission::Ticket admit_local(worker::Context& worker, tunnel::Admission& admission, net::Fd& fd,
                                      const std::string& source) {
  tunnel::Admission::Refusal refusal;
  tunnel::Admission::Ticket ticket = admission.admit("", refusal);
  if (!ticket) {
    worker.metrics.layers.get<tunnel::TunnelStats>().limit_rejections[metrics::kClient][refusal].add();
    spdlog::debug("client: {} refused: {} reached", source, tunnel::label(refusal));
    net::close_with_reset(fd);
  }
  return ticket;
}

ClientListener::ClientListener(worker::Context& worker, tunnel::Admission& admission, PoolSet& pools,
                               net::Fd listener, address::HostPort target)
    : worker_(worker),
      admission_(admission),
      pools_(pools),
      upstream_{worker.config.client->gateway, std::nullopt},
      target_(std::move(target)),
      acceptor_(worker.loop, std::move(listener),
                [this](net::Fd fd, const sockaddr_storage& peer) { on_accept(std::move(fd), peer); },
                worker.accept_errors()) {}

void ClientListener::on_accept(net::Fd fd, const sockaddr_storage& peer) {
  std::string source = net::format_address(reinterpret_cast<const sockaddr*>(&peer));
  tunnel::Admission::Ticket ticket = admit_local(worker_, admission_, fd, source);
  if (!ticket) return;
  pools_.get(upstream_).open_tunnel(worker_.socket_stream(std::move(fd), worker::Context::SocketUse::local),
                                    {.role = "client",
                                     .source = std::move(source),
                                     .target = target_.to_string(),
                                     .ticket = std::move(ticket)});
}

}  // namespace hbone::client
