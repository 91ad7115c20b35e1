#include "daemon/node_proxy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "net/host_addresses.h"
#include "net/listen_socket.h"

namespace hbone::daemon {
namespace {

// The pod roles' sections: the config's own when given, else the defaults, with what the
// in-pod rules need: outbound arrives by REDIRECT (its target from SO_ORIGINAL_DST), and
// the HBONE inbound relays only to the address it was reached on, the pod's (ztunnel's
// inbound rule).
config::Config pod_config(const config::Config& config) {
  config::Config out = config;
  if (!out.gateway) out.gateway.emplace();
  if (!out.client) out.client.emplace();
  out.gateway->require_arrived_address = true;
  out.client->capture = config::CaptureConfig{.listen = {"0.0.0.0", node::kOutboundPort}, .tproxy = false};
  return out;
}

// The pod's listeners, made inside its namespace (on the namespace thread): every address
// of the pod (its rules send traffic to these ports), TPROXY's for the inbound ones. On
// [::], which takes IPv4 too (dual-stack, as ztunnel's, also in a namespace with IPv6
// disabled by sysctl), or on 0.0.0.0 on a kernel without IPv6 (booted with
// ipv6.disable=1: no AF_INET6 socket at all). With SO_REUSEPORT, as ztunnel's
// (INPOD_PORT_REUSE): the next hbone of a rolling DaemonSet (maxSurge) listens beside this
// one before it drains, and a pod deleted and added again need not wait for its worker to
// close the old ones. Throws std::system_error.
node::PodListeners listen_in_pod() {
  auto on = [](const std::string& address, uint16_t port, bool transparent) {
    return net::listen_on({address, port}, {.reuse_port = true, .transparent = transparent});
  };
  auto all_on = [&](const std::string& address) {
    return node::PodListeners{on(address, node::kOutboundPort, false), on(address, node::kInboundPlainPort, true),
                              on(address, node::kInboundPort, true), address};
  };
  try {
    return all_on("::");
  } catch (const std::system_error& e) {
    if (e.code().value() != EAFNOSUPPORT && e.code().value() != EADDRNOTAVAIL) throw;
    return all_on("0.0.0.0");
  }
}

}  // namespace

NodeProxy::NodeProxy(net::EventLoop& loop, const config::Config& config, std::vector<std::unique_ptr<Worker>>& workers,
                     std::shared_ptr<const tunnel::PeerPolicy> snapshot,
                     std::function<std::unique_ptr<ca::CertificateCache>(ca::CertificateCache::Issued)> certificates)
    : trust_domain_(config.tls.trust_domain),
      pod_config_(pod_config(config)),
      workers_(workers),
      snapshot_(std::move(snapshot)),
      certificates_(certificates([this](const std::string& identity,
                                        const std::shared_ptr<const tls::IssuedIdentity>& certificate) {
        issued(identity, certificate);
      })),
      pods_per_worker_(workers.size(), 0),
      table_({.added = [this](const inpod::Pod& pod) { return add(pod); },
              .removed = [this](const inpod::Pod& pod) { remove(pod); }}),
      zds_(loop, {.socket_path = config.node->zds_socket}, table_) {}

std::string NodeProxy::add(const inpod::Pod& pod) {
  const inpod::PodInfo& info = pod.info;
  Served served;
  served.identity = "spiffe://" + trust_domain_ + "/ns/" + info.namespace_name + "/sa/" + info.service_account;
  served.netns = pod.netns;
  net::HostAddresses addresses;
  try {
    served.listeners = netns_.run(pod.netns, listen_in_pod);
    addresses = netns_.run(pod.netns, [] { return net::HostAddresses::read(); });
  } catch (const std::exception& e) {
    spdlog::error("pod {}/{} ({}): cannot listen in its network namespace: {}", info.namespace_name, info.name,
                  pod.uid, e.what());
    return std::string("listening in the pod's network namespace: ") + e.what();
  }
  net::OwnListeners own;
  for (uint16_t port : {node::kOutboundPort, node::kInboundPlainPort, node::kInboundPort}) {
    own.add({served.listeners.address, port});
  }
  own.set_host(std::move(addresses));
  served.own_listeners = std::make_shared<const net::OwnListeners>(std::move(own));
  served.worker = least_loaded_worker();
  ++pods_per_worker_[served.worker];
  certificates_->acquire(served.identity);
  Served& entry = served_.insert_or_assign(pod.uid, std::move(served)).first->second;
  if (identities_.count(entry.identity)) start_pod(pod.uid, entry);
  {
    std::lock_guard lock(status_mutex_);
    status_[pod.uid] = {{"uid", pod.uid},           {"name", info.name},
                        {"namespace", info.namespace_name}, {"service_account", info.service_account},
                        {"identity", entry.identity}, {"netns", pod.netns_id.to_string()},
                        {"worker", entry.worker},     {"state", entry.started ? "serving" : "awaiting certificate"}};
  }
  return "";
}

void NodeProxy::start_pod(const std::string& uid, Served& pod) {
  Worker& worker = *workers_[pod.worker];
  net::EventLoop& worker_loop = worker.loop();
  net::SocketSource sockets = [this, netns = pod.netns, &worker_loop](int family, net::SocketMade made) {
    netns_.make_socket(netns, family, worker_loop, std::move(made));
  };
  worker.add_pod(uid, {pod_config_, std::move(sockets), identities_.at(pod.identity).policy, pod.own_listeners,
                       std::move(pod.listeners)});
  pod.started = true;
}

void NodeProxy::remove(const inpod::Pod& pod) {
  auto it = served_.find(pod.uid);
  if (it == served_.end()) return;
  Served& served = it->second;
  if (served.started) workers_[served.worker]->remove_pod(pod.uid);
  --pods_per_worker_[served.worker];
  std::string identity = served.identity;
  served_.erase(it);
  {
    std::lock_guard lock(status_mutex_);
    status_.erase(pod.uid);
  }
  if (certificates_->release(identity)) identities_.erase(identity);  // its last pod
}

void NodeProxy::issued(const std::string& identity, const std::shared_ptr<const tls::IssuedIdentity>& certificate) {
  tunnel::PeerPolicy::Identity tls = tunnel::PeerPolicy::Identity::issued(pod_config_, *certificate);  // may throw
  Identity& entry = identities_[identity];
  entry.tls = std::move(tls);
  entry.policy = snapshot_->as(entry.tls);
  for (auto& [uid, pod] : served_) {
    if (pod.identity != identity) continue;
    if (pod.started) {
      workers_[pod.worker]->set_pod_policy(uid, entry.policy);
      continue;
    }
    start_pod(uid, pod);
    std::lock_guard lock(status_mutex_);
    status_[uid]["state"] = "serving";
  }
}

void NodeProxy::apply(std::shared_ptr<const tunnel::PeerPolicy> snapshot) {
  snapshot_ = std::move(snapshot);
  for (auto& [identity, entry] : identities_) entry.policy = snapshot_->as(entry.tls);
  for (auto& [uid, pod] : served_) {
    if (pod.started) workers_[pod.worker]->set_pod_policy(uid, identities_.at(pod.identity).policy);
  }
}

unsigned NodeProxy::least_loaded_worker() const {
  return static_cast<unsigned>(std::min_element(pods_per_worker_.begin(), pods_per_worker_.end()) -
                               pods_per_worker_.begin());
}

nlohmann::json NodeProxy::pods() const {
  std::lock_guard lock(status_mutex_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [uid, pod] : status_) out.push_back(pod);
  return out;
}

}  // namespace hbone::daemon
