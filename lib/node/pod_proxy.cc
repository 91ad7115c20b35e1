#include "node/pod_proxy.h"

namespace hbone::node {

PodProxy::PodProxy(const worker::Context& worker, tunnel::Admission& admission, const config::Config& pod_config,
                   net::SocketSource sockets, std::shared_ptr<const tunnel::PeerPolicy> policy,
                   std::shared_ptr<const net::OwnListeners> own_listeners, PodListeners listeners)
    : context_{worker.index,  worker.loop,         pod_config,        worker.metrics,
               worker.buffers, policy->limits.idle_timeout, worker.dial_below, std::move(sockets),
               /*original_source=*/true},
      policy_(policy),
      pools_(context_, policy),
      outbound_(context_, admission, pools_, std::move(listeners.outbound)),
      inbound_(context_, policy, admission, /*balancer=*/nullptr, std::move(own_listeners),
               std::move(listeners.inbound)),
      inbound_plain_(context_, admission, policy_, std::move(listeners.inbound_plain)) {}

void PodProxy::set_policy(std::shared_ptr<const tunnel::PeerPolicy> policy) {
  context_.idle_timeout = policy->limits.idle_timeout;
  pools_.set_policy(policy);
  inbound_.set_policy(policy);
  policy_ = std::move(policy);
}

void PodProxy::drain() {
  outbound_.stop_accepting();
  inbound_plain_.stop_accepting();
  inbound_.drain();
  pools_.drain();
}

void PodProxy::close_all() {
  outbound_.stop_accepting();
  outbound_.close_all();
  inbound_plain_.stop_accepting();
  inbound_plain_.close_all();
  inbound_.close_all();
  pools_.close_all();
}

}  // namespace hbone::node
