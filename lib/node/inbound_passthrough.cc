#include "node/inbound_passthrough.h"

#include <spdlog/spdlog.h>

#include "client/client_listener.h"
#include "gateway/admit.h"
#include "net/socket_ops.h"

namespace hbone::node {

InboundPassthrough::InboundPassthrough(worker::Context& worker, tunnel::Admission& admission,
                                       const std::shared_ptr<const tunnel::PeerPolicy>& policy, net::Fd listener)
    : worker_(worker), admission_(admission), policy_(policy), relays_(worker) {
  acceptor_.emplace(worker.loop, std::move(listener),
                    [this](net::Fd fd, const sockaddr_storage& peer) { on_accept(std::move(fd), peer); },
                    worker.accept_errors());
}

void InboundPassthrough::on_accept(net::Fd fd, const sockaddr_storage& peer_storage) {
  const auto* peer = reinterpret_cast<const sockaddr*>(&peer_storage);
  std::string source = net::format_address(peer);
  sockaddr_storage destination;
  if (!net::original_destination(fd.get(), /*transparent=*/true, destination)) {
    spdlog::warn("inbound plaintext: src={}: no destination, reset", source);
    net::close_with_reset(fd);
    return;
  }
  const auto* to = reinterpret_cast<const sockaddr*>(&destination);
  std::string target = net::format_address(to);
  static const std::string kNoIdentity;
  policy::Decision decision = gateway::decide(*policy_, gateway::Peer{kNoIdentity, peer, to},
                                              net::host_port_of(to), to);
  if (!decision.allowed) {
    spdlog::info("inbound plaintext: src={} dst={}: denied: policy={}, reset", source, target, decision.policy);
    net::close_with_reset(fd);
    return;
  }
  tunnel::Admission::Ticket ticket = client::admit_local(worker_, admission_, fd, source);
  if (!ticket) return;
  std::optional<sockaddr_storage> from;
  if (worker_.original_source) from = peer_storage;
  relays_.start(worker_.socket_stream(std::move(fd), worker::Context::SocketUse::local), destination,
                {std::move(source), std::move(target), "inbound plaintext", std::move(ticket), from});
}

}  // namespace hbone::node
