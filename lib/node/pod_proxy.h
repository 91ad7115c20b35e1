#pragma once

#include <memory>
#include <string>

#include "client/capture_listener.h"
#include "client/pool_set.h"
#include "config/config.h"
#include "gateway/gateway_server.h"
#include "net/dialer.h"
#include "net/own_listeners.h"
#include "node/inbound_passthrough.h"
#include "tunnel/admission.h"
#include "tunnel/peer_policy.h"
#include "worker/context.h"

namespace hbone::node {

// The ports a pod's rules send its traffic to (istio-cni's in-pod rules, ztunnel's ports).
inline constexpr uint16_t kOutboundPort = 15001;       // the pod's outbound TCP (REDIRECT)
inline constexpr uint16_t kInboundPlainPort = 15006;   // plaintext to the pod (TPROXY)
inline constexpr uint16_t kInboundPort = 15008;        // HBONE to the pod (TPROXY)

// A pod's listening sockets, made inside its network namespace, all on `address`: "::"
// (dual-stack, IPv4 too) or "0.0.0.0" (a kernel without IPv6).
struct PodListeners {
  net::Fd outbound;
  net::Fd inbound_plain;
  net::Fd inbound;
  std::string address;
};

// One pod's proxy, on the worker that serves it (ztunnel's per-pod proxy in in-pod mode):
// its outbound capture, tunnelled on connection pools of its own, its HBONE inbound, and
// its plaintext inbound, each speaking with the pod's identity (`policy` is the snapshot as
// that identity) and dialling from inside the pod (`sockets`), so the pod keeps its own
// addresses and routes. Its objects see a Context of their own: the worker's, with the
// node proxy's pod config (`pod_config`, outliving it) and the pod's socket source. What
// its objects retire on the loop still uses that Context: a PodProxy closed is retired
// after them (Worker::retire_pod), never destroyed at once.
class PodProxy final : public net::Retirable {
 public:
  PodProxy(const worker::Context& worker, tunnel::Admission& admission, const config::Config& pod_config,
           net::SocketSource sockets, std::shared_ptr<const tunnel::PeerPolicy> policy,
           std::shared_ptr<const net::OwnListeners> own_listeners, PodListeners listeners);

  // New connections and requests use `policy` (a renewed certificate, a new snapshot).
  void set_policy(std::shared_ptr<const tunnel::PeerPolicy> policy);
  template <typename F>
  void for_each_connection(F&& f) {
    pools_.for_each_connection(f);
    inbound_.for_each_connection(f);
  }
  bool idle() const {
    return pools_.connection_count() == 0 && inbound_.connection_count() == 0 && outbound_.direct_count() == 0 &&
           inbound_plain_.count() == 0;
  }
  // Once a second: idle pooled connections close.
  void sweep() { pools_.sweep(); }
  // Stops accepting; connections finish their tunnels.
  void drain();
  // Closes everything now.
  void close_all();

 private:
  worker::Context context_;
  std::shared_ptr<const tunnel::PeerPolicy> policy_;
  client::PoolSet pools_;
  client::CaptureListener outbound_;
  gateway::GatewayServer inbound_;
  InboundPassthrough inbound_plain_;
};

}  // namespace hbone::node
