#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ca/certificate_cache.h"
#include "config/config.h"
#include "daemon/worker.h"
#include "inpod/netns_thread.h"
#include "inpod/pod_table.h"
#include "inpod/zds_client.h"
#include "tunnel/peer_policy.h"

namespace hbone::daemon {

// The node proxy's control side (ztunnel's inpod WorkloadProxyManager), on the main loop:
// the CNI agent's pods (ZDS) become pod proxies on the workers. For each pod added it makes
// the pod's listeners inside the pod's network namespace (the namespace thread), asks
// istiod's CA for the pod's identity (shared by the pods of one service account), and,
// once that certificate is there, hands the pod to the worker with the fewest pods; until
// then the kernel queues the pod's connections. Each pod's proxy runs with the snapshot in
// force as its own identity, rebuilt when either changes. A pod removed closes its
// listeners and connections; its identity's certificate goes with its last pod.
class NodeProxy {
 public:
  // `workers` are started before start(), and outlive it; `certificates` comes from the
  // control plane (its CA channel).
  NodeProxy(net::EventLoop& loop, const config::Config& config, std::vector<std::unique_ptr<Worker>>& workers,
            std::shared_ptr<const tunnel::PeerPolicy> snapshot,
            std::function<std::unique_ptr<ca::CertificateCache>(ca::CertificateCache::Issued)> certificates);
  NodeProxy(const NodeProxy&) = delete;
  NodeProxy& operator=(const NodeProxy&) = delete;

  void start() { zds_.start(); }
  // Any thread: connected to the agent and through its first snapshot.
  bool ready() const { return zds_.synced(); }
  // A new snapshot is in force: every pod's proxy takes it, as its own identity.
  void apply(std::shared_ptr<const tunnel::PeerPolicy> snapshot);
  // Any thread: /config_dump's "pods" and "certificates".
  nlohmann::json pods() const;
  nlohmann::json certificates() const { return certificates_->status(); }

 private:
  struct Served {
    std::string identity;
    unsigned worker = 0;
    bool started = false;  // on its worker; else waiting for its identity's certificate
    inpod::Netns netns;
    node::PodListeners listeners;  // until started
    std::shared_ptr<const net::OwnListeners> own_listeners;
  };

  // PodTable's events: "" once the pod is served (or waits for its certificate), else why not.
  std::string add(const inpod::Pod& pod);
  void remove(const inpod::Pod& pod);
  // An identity's certificate came or was renewed (throws, changing nothing, if unusable).
  void issued(const std::string& identity, const std::shared_ptr<const tls::IssuedIdentity>& certificate);
  void start_pod(const std::string& uid, Served& pod);
  unsigned least_loaded_worker() const;

  std::string trust_domain_;
  // What every pod's proxy runs with: the config, with the pod roles' sections (its own
  // when given) and the in-pod rules' needs (inbound only to where it arrived).
  config::Config pod_config_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  std::shared_ptr<const tunnel::PeerPolicy> snapshot_;
  inpod::NetnsThread netns_;
  std::unique_ptr<ca::CertificateCache> certificates_;
  // By identity, once it has a certificate: its TLS, and the snapshot as it.
  struct Identity {
    tunnel::PeerPolicy::Identity tls;
    std::shared_ptr<const tunnel::PeerPolicy> policy;
  };
  std::map<std::string, Identity> identities_;
  std::map<std::string, Served> served_;  // by pod uid
  std::vector<size_t> pods_per_worker_;
  mutable std::mutex status_mutex_;
  std::map<std::string, nlohmann::json> status_;  // by pod uid: what pods() shows
  inpod::PodTable table_;
  inpod::ZdsClient zds_;  // last: its callbacks reach everything above
};

}  // namespace hbone::daemon
