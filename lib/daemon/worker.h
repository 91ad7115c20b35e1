#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "client/capture_listener.h"
#include "client/client_listener.h"
#include "client/pool_set.h"
#include "config/config.h"
#include "gateway/gateway_server.h"
#include "metrics/worker_metrics.h"
#include "net/event_loop.h"
#include "net/fd.h"
#include "net/own_listeners.h"
#include "net/timer.h"
#include "node/pod_proxy.h"
#include "worker/context.h"
#include "tunnel/admission.h"
#include "tunnel/peer_policy.h"

namespace hbone::daemon {

// How a reload recognises client.listeners[i]: its configured address, numbered among
// entries with the same one (two "127.0.0.1:0" listeners are two listeners).
inline std::string listener_key(const std::vector<config::ListenerConfig>& listeners, size_t i) {
  std::string listen = listeners[i].listen.to_string();
  size_t same = 0;
  for (size_t j = 0; j < i; ++j) same += listeners[j].listen.to_string() == listen;
  return listen + "#" + std::to_string(same);
}

// This worker's share of the listening sockets (one SO_REUSEPORT socket each).
struct WorkerSockets {
  std::optional<net::Fd> gateway;
  std::vector<net::Fd> client;  // in the order of client.listeners
  std::optional<net::Fd> capture;
};

// One event-loop thread owning its listeners, connections and tunnels: nothing on the
// data path is shared with another worker, so nothing is locked.
class Worker {
 public:
  // `balancer`: null, or shared by all workers (gateway.balance: exact).
  Worker(unsigned index, const config::Config& config, tunnel::Admission& admission,
         worker::BufferBudget& budget, net::ConnectionBalancer* balancer,
         std::shared_ptr<const tunnel::PeerPolicy> policy, WorkerSockets sockets);
  ~Worker();

  // `own_listeners`: every address the process listens on (the gateway never dials them).
  void start(std::shared_ptr<const net::OwnListeners> own_listeners);
  // Thread-safe: stop accepting, GOAWAY, exit when idle or at the drain deadline.
  void drain();
  // Thread-safe: close everything now.
  void stop();
  // Thread-safe: new connections and requests use `policy` and `own_listeners` from now on
  // (before start(): from the start).
  void reload(std::shared_ptr<const tunnel::PeerPolicy> policy, std::shared_ptr<const net::OwnListeners> own_listeners);
  // Thread-safe: the host's addresses changed; the next dials check against `own_listeners`.
  void set_own_listeners(std::shared_ptr<const net::OwnListeners> own_listeners);
  // Thread-safe: client.listeners changed by a reload. `key` is the listener's configured
  // address; a removed listener stops accepting (its tunnels carry on).
  void add_client_listener(std::string key, net::Fd fd, address::HostPort target);
  void retarget_client_listener(const std::string& key, address::HostPort target);
  void remove_client_listener(const std::string& key);
  // Thread-safe: a gateway connection the balancer placed on this worker.
  void adopt_gateway_connection(net::Fd fd, std::string peer);
  // Thread-safe: a node proxy's pod to serve here (node::PodProxy's arguments), replacing
  // one of the same uid; its policy replaced; the pod gone (its connections close: its
  // namespace is going away).
  struct PodSetup {
    const config::Config& pod_config;
    net::SocketSource sockets;
    std::shared_ptr<const tunnel::PeerPolicy> policy;
    std::shared_ptr<const net::OwnListeners> own_listeners;
    node::PodListeners listeners;
  };
  void add_pod(std::string uid, PodSetup setup);
  void set_pod_policy(const std::string& uid, std::shared_ptr<const tunnel::PeerPolicy> policy);
  void remove_pod(const std::string& uid);
  void join();

  const metrics::WorkerMetrics& metrics() const { return metrics_; }
  // For tasks of other threads that answer on this worker's thread (loop().post()).
  net::EventLoop& loop() { return loop_; }
  // Thread-safe: the worker's connections and tunnels as JSON, built on its own thread;
  // nullopt when the worker does not answer in time.
  std::optional<nlohmann::json> describe(std::chrono::milliseconds timeout);

 private:
  void run();
  void pin();  // onto its CPU of cpu_affinity, if any
  // Closes a pod's proxy and destroys it after what it retired (see node::PodProxy).
  void retire_pod(std::unique_ptr<node::PodProxy> pod);
  void on_drain();
  void on_stop();
  bool idle() const;
  // Once a second: a burst of tunnels ended, so the allocator cache goes back.
  void return_cache_after_burst();
  template <typename F>
  void for_each_connection(F&& f);

  unsigned index_;
  const config::Config& config_;
  tunnel::Admission& admission_;
  net::ConnectionBalancer* balancer_;
  std::shared_ptr<const net::OwnListeners> own_listeners_;
  std::shared_ptr<const tunnel::PeerPolicy> policy_;
  WorkerSockets sockets_;
  net::EventLoop loop_;
  metrics::WorkerMetrics metrics_;
  worker::BufferGate buffers_;
  worker::Context context_;
  std::optional<gateway::GatewayServer> gateway_;
  std::optional<client::PoolSet> pools_;
  std::map<std::string, std::unique_ptr<client::ClientListener>> listeners_;  // by configured address
  std::optional<client::CaptureListener> capture_;
  std::map<std::string, std::unique_ptr<node::PodProxy>> pods_;  // a node proxy's, by uid
  std::optional<net::Timer> rate_sampler_;
  std::chrono::steady_clock::time_point last_sample_;
  int64_t tunnel_peak_ = 0;  // most tunnels since the allocator cache last went back
  std::optional<net::Timer> drain_check_;
  std::optional<net::Timer> drain_deadline_;
  std::thread thread_;
};

}  // namespace hbone::daemon
