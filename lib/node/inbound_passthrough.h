#pragma once

#include <memory>
#include <optional>

#include "client/direct_connection.h"
#include "net/listen_socket.h"
#include "tunnel/admission.h"
#include "tunnel/peer_policy.h"
#include "worker/context.h"

namespace hbone::node {

// A pod's plaintext inbound (ztunnel's inbound passthrough, port 15006): TCP from outside
// the mesh that the pod's rules sent here by TPROXY, addressed to the pod. istiod's
// policies for the pod decide with no peer identity (a policy that wants one denies); what
// they allow is relayed to where it was addressed, from inside the pod, as it came.
class InboundPassthrough {
 public:
  // `policy` is read at each connection (the pod's newest, which the owner replaces).
  InboundPassthrough(worker::Context& worker, tunnel::Admission& admission,
                     const std::shared_ptr<const tunnel::PeerPolicy>& policy, net::Fd listener);
  void stop_accepting() { acceptor_.reset(); }
  size_t count() const { return relays_.size(); }
  void close_all() { relays_.close_all(); }

 private:
  void on_accept(net::Fd fd, const sockaddr_storage& peer);

  worker::Context& worker_;
  tunnel::Admission& admission_;
  const std::shared_ptr<const tunnel::PeerPolicy>& policy_;
  std::optional<net::Acceptor> acceptor_;
  client::DirectConnections relays_;
};

}  // namespace hbone::node
