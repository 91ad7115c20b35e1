#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <optional>
#include <stdexcept>
#include <vector>

#include "admin/admin_server.h"
#include "config/config.h"
#include "daemon/control_plane.h"
#include "daemon/node_proxy.h"
#include "daemon/reloader.h"
#include "daemon/systemd_notifier.h"
#include "daemon/worker.h"
#include "net/connection_balancer.h"
#include "tls/tls_context.h"
#include "metrics/collector.h"
#include "tunnel/admission.h"
#include "worker/buffer_budget.h"
#include "tunnel/peer_policy.h"
#include "tunnel/snapshot_publisher.h"

namespace hbone::daemon {

// A startup failure the operator must fix; what() names the config key.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One listener's sockets, one per worker, bound but not yet in use.
struct BoundListener {
  std::string key;            // its config key, for the log
  address::HostPort address;  // as bound (port 0 resolved)
  std::vector<net::Fd> fds;
};

// The process: TLS setup, every listening socket bound up front (so a busy port fails
// the start, not a worker later), then one Worker per configured loop.
class Daemon {
 public:
  // Throws StartupError. `config_path` is read again on SIGHUP; `policy` was built from
  // `config` (PeerPolicy::build).
  Daemon(config::Config config, std::string config_path, std::shared_ptr<const tunnel::PeerPolicy> policy);
  ~Daemon();

  // Runs until SIGINT (stop now) or SIGTERM (drain); returns the exit code.
  int run();

  // Thread-safe. The first call drains (GOAWAY, finish tunnels, exit); later calls stop.
  void drain_or_stop();
  // Main thread, every few seconds: free heap handed back to the OS.
  void watch_heap();

 private:
  admin::AdminHooks admin_hooks();
  // socket.mark needs CAP_NET_ADMIN: fatal with capture (loops), else a warning.
  void check_socket_mark();
  // Every CPU of cpu_affinity must be one the process may use (a cgroup or taskset may limit it).
  void check_cpu_affinity();
  // A client listener a reload adds, bound before anything of the reload applies.
  struct AddedListener {
    BoundListener sockets;
    address::HostPort target;
  };
  // Binds the listeners `wanted` adds; throws StartupError if one cannot be (the others
  // close again, nothing has changed).
  std::map<std::string, AddedListener> bind_added_listeners(const std::vector<config::ListenerConfig>& wanted) const;
  // client.listeners after a reload, which cannot fail now: the `added` ones handed to every
  // worker, removed ones closed (their tunnels carry on), a changed target used by the next
  // connections.
  void update_client_listeners(const std::vector<config::ListenerConfig>& wanted,
                               std::map<std::string, AddedListener> added);
  // The host's addresses changed (AddressWatcher): read them again, hand them to the workers.
  void refresh_host_addresses();
  // The consumers' side of snapshots_: puts a new snapshot in force on every worker, the
  // listeners and the metrics; all of it or, if a new listener cannot be bound
  // (StartupError), none.
  void apply(const std::shared_ptr<const tunnel::PeerPolicy>& policy);
  // The expiry gauge's figures.
  void publish_expiry(const tunnel::PeerPolicy& policy);
  // Logs our certificate's expiry once it is near or past (each certificate once).
  void warn_expiry(const tunnel::PeerPolicy& policy);
  std::string certs_json() const;
  // The config in force as YAML and, with xds, the mesh and the stream's state.
  std::string config_dump() const;
  std::string metrics_text();
  std::string tunnels_json() const;

  // The control-plane thread's loop (signals, watches, xDS); declared first, so it outlives
  // every handle on it.
  net::EventLoop main_loop_;
  config::Config config_;  // as started: what the workers run with
  tunnel::SnapshotPublisher snapshots_;  // the live snapshot in force (/config_dump and /certs show it)
  std::string expiry_warned_;  // serial of the certificate last warned about
  metrics::ProcessMetrics process_metrics_;
  Reloader reloader_;  // SIGHUP, the config file and certificate watches
  tunnel::Admission admission_{snapshots_.current()->limits.max_tunnels,
                               snapshots_.current()->limits.max_tunnels_per_identity};
  worker::BufferBudget budget_{snapshots_.current()->limits.buffer_memory};
  std::optional<net::ConnectionBalancer> balancer_;  // gateway.balance: exact, workers > 1
  net::OwnListeners own_listeners_;  // the master copy: reloads add and remove client listeners, workers get copies
  struct ClientListenerState {
    address::HostPort bound;   // the address as bound (port 0 resolved)
    address::HostPort target;
  };
  std::map<std::string, ClientListenerState> client_listeners_;  // by configured address
  std::vector<std::unique_ptr<Worker>> workers_;
  std::optional<SystemdNotifier> notifier_;  // from the start of run()
  std::unique_ptr<ControlPlane> control_plane_;  // with xds or a certificate provider
  std::unique_ptr<NodeProxy> node_;  // with node: the CNI agent's pods
  std::atomic<bool> running_{false};
  std::atomic<bool> draining_{false};
  std::unique_ptr<admin::AdminServer> admin_;  // last: stopped first
  std::unique_ptr<admin::AdminServer> metrics_endpoint_;  // admin.metrics_listen
};

}  // namespace hbone::daemon
