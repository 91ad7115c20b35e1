#include "daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <uv.h>

#include <prometheus/text_serializer.h>

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "config/config_loader.h"
#include "admin/heap.h"
#include "client/capture_stats.h"
#include "gateway/gateway_stats.h"
#include "h2/handshake_stats.h"
#include "metrics/collector.h"
#include "metrics/family.h"
#include "net/address_watcher.h"
#include "net/event_loop.h"
#include "net/listen_socket.h"
#include "net/own_connections.h"
#include "net/timer.h"
#include "net/uv_handle.h"

namespace hbone::daemon {
namespace {

// Binds `address` once per worker. Port 0 is resolved by the first bind so that all
// workers share one port. Nothing else changes until announce().
BoundListener bind_all(std::string key, address::HostPort address, unsigned workers, bool transparent = false) {
  BoundListener out{std::move(key), {}, {}};
  for (unsigned i = 0; i < workers; ++i) {
    try {
      out.fds.push_back(net::listen_on(address, {.transparent = transparent}));
    } catch (const std::system_error& e) {
      throw StartupError(out.key + ": cannot listen on " + address.to_string() + ": " + e.code().message());
    }
    if (address.port == 0) address = net::local_address(out.fds.back().get());
  }
  out.address = std::move(address);
  return out;
}

// A layer's own counters (metrics::LayerStats) of every worker that has them, as that
// layer exports them.
template <typename S>
void collect_layer(metrics::Families& out, const std::vector<const metrics::WorkerMetrics*>& workers) {
  std::vector<const S*> parts;
  for (const metrics::WorkerMetrics* w : workers) {
    if (const S* stats = w->layers.find<S>()) parts.push_back(stats);
  }
  collect(out, parts);
}

// The listener is in use: its address is one of ours (never dialled for a peer).
std::vector<net::Fd> announce(BoundListener bound, net::OwnListeners& own) {
  own.add(bound.address);
  spdlog::info("{}: listening on {}", bound.key, bound.address.to_string());
  return std::move(bound.fds);
}

// Every tunnel holds a socket on each side: the soft limit (often 1024) is far too low
// for a proxy, the hard limit is what the operator granted.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  }
  spdlog::info("open files limit: {}", limit.rlim_cur);
}

}  // namespace

Daemon::Daemon(config::Config config, std::string config_path,
               std::shared_ptr<const tunnel::PeerPolicy> policy)
    : config_(std::move(config)),
      snapshots_(tunnel::SnapshotInputs{config_}, std::move(policy),
                 [this](const std::shared_ptr<const tunnel::PeerPolicy>& next) { apply(next); }),
      reloader_(config_, std::move(config_path), process_metrics_, snapshots_) {
  const std::shared_ptr<const tunnel::PeerPolicy> first = snapshots_.current();
  if (config_.tls.plaintext_h2c) {
    spdlog::warn("tls.plaintext_h2c: HTTP/2 WITHOUT TLS, no identities checked: for benchmarks only");
  }
  check_socket_mark();
  check_cpu_affinity();
  process_metrics_.buffer_budget = first->limits.buffer_memory;
  process_metrics_.heap_released_known = admin::kReleasesHeap;
  publish_expiry(*first);
  try {
    own_listeners_.set_host(net::HostAddresses::read());
  } catch (const std::system_error& e) {
    throw StartupError(std::string("cannot read this host's addresses (never dialled for a peer): ") + e.what());
  }
  std::vector<WorkerSockets> sockets(config_.workers);
  if (config_.gateway) {
    auto fds = announce(bind_all("gateway.listen", config_.gateway->listen, config_.workers,
                                 config_.gateway->transparent), own_listeners_);
    for (unsigned i = 0; i < config_.workers; ++i) sockets[i].gateway = std::move(fds[i]);
  }
  if (config_.client) {
    const std::vector<config::ListenerConfig>& listeners = first->listeners;  // live: from the snapshot
    for (size_t l = 0; l < listeners.size(); ++l) {
      const config::ListenerConfig& listener = listeners[l];
      ClientListenerState& state = client_listeners_[listener_key(listeners, l)];
      state.target = listener.target;
      BoundListener bound = bind_all("client.listeners[" + std::to_string(l) + "].listen", listener.listen,
                                     config_.workers);
      state.bound = bound.address;
      auto fds = announce(std::move(bound), own_listeners_);
      for (unsigned i = 0; i < config_.workers; ++i) sockets[i].client.push_back(std::move(fds[i]));
    }
    if (const auto& capture = config_.client->capture) {
      auto fds = announce(bind_all("client.capture.listen", capture->listen, config_.workers, capture->tproxy),
                          own_listeners_);
      for (unsigned i = 0; i < config_.workers; ++i) sockets[i].capture = std::move(fds[i]);
      net::OwnConnections::instance().enable();
    }
  }
  if (config_.gateway && config_.gateway->exact_balance && config_.workers > 1) {
    balancer_.emplace(config_.workers);
    balancer_->set_hand_off([this](unsigned index, net::Fd fd, std::string peer) {
      workers_[index]->adopt_gateway_connection(std::move(fd), std::move(peer));
    });
  }
  for (unsigned i = 0; i < config_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, config_, admission_, budget_, balancer_ ? &*balancer_ : nullptr,
                                                first, std::move(sockets[i])));
  }
  if (ControlPlane::needed(config_)) {
    try {
      control_plane_ = std::make_unique<ControlPlane>(main_loop_, config_, snapshots_);
    } catch (const tls::TlsSetupError& e) {
      throw StartupError(std::string("xds.root_ca: ") + e.what());
    }
  }
  if (config_.node) {
    node_ = std::make_unique<NodeProxy>(main_loop_, config_, workers_, first, [this](ca::CertificateCache::Issued issued) {
      return control_plane_->workload_certificates(std::move(issued));
    });
  }
  try {
    admin_ = std::make_unique<admin::AdminServer>("admin.listen", config_.admin.listen,
                                                  admin::AdminServer::Scope::full, admin_hooks());
    if (config_.admin.metrics_listen) {
      metrics_endpoint_ = std::make_unique<admin::AdminServer>(
          "admin.metrics_listen", *config_.admin.metrics_listen, admin::AdminServer::Scope::metrics_only,
          admin_hooks());
    }
  } catch (const std::runtime_error& e) {
    throw StartupError(e.what());
  }
  own_listeners_.add(admin_->address());
  spdlog::info("admin.listen: listening on {}", admin_->address().to_string());
  if (metrics_endpoint_) {
    own_listeners_.add(metrics_endpoint_->address());
    spdlog::info("admin.metrics_listen: listening on {} (read-only)", metrics_endpoint_->address().to_string());
  }
}

void Daemon::check_socket_mark() {
  uint32_t mark = config_.socket.mark;
  if (mark == 0) return;
  net::Fd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::setsockopt(probe.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0) return;
  std::string why = std::strerror(errno);
  if ((config_.client && config_.client->capture) || config_.node) {
    // Unmarked, hbone's own connections would be captured again (a pod's rules too).
    throw StartupError("socket.mark: cannot set SO_MARK " + std::to_string(mark) + ": " + why +
                       " (needs CAP_NET_ADMIN; capture rules tell hbone's sockets by it)");
  }
  spdlog::warn("socket.mark: cannot set SO_MARK ({}; needs CAP_NET_ADMIN): sockets go unmarked", why);
}

void Daemon::check_cpu_affinity() {
  if (config_.cpu_affinity.empty()) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    throw StartupError(std::string("cpu_affinity: cannot read this process's CPUs: ") + std::strerror(errno));
  }
  for (unsigned cpu : config_.cpu_affinity) {
    if (CPU_ISSET(cpu, &allowed)) continue;
    std::string usable;
    for (unsigned other = 0; other < CPU_SETSIZE; ++other) {
      if (CPU_ISSET(other, &allowed)) usable += (usable.empty() ? "" : ",") + std::to_string(other);
    }
    throw StartupError("cpu_affinity: CPU " + std::to_string(cpu) + " is not one this process may run on (" +
                       usable + ")");
  }
}

admin::AdminHooks Daemon::admin_hooks() {
  return {
      .metrics_text = [this] { return metrics_text(); },
      .tunnels_json = [this] { return tunnels_json(); },
      .config_dump = [this] { return config_dump(); },
      .certs_json = [this] { return certs_json(); },
      .ready = [this] {
        return running_.load() && !draining_.load() && (!control_plane_ || control_plane_->ready()) &&
               (!node_ || node_->ready());
      },
      .drain = [this] { drain_or_stop(); },
  };
}

std::string Daemon::metrics_text() {
  if (auto stats = admin::heap_stats()) {  // fresh at each scrape
    process_metrics_.heap_allocated.set(static_cast<int64_t>(stats->allocated));
    process_metrics_.heap_free.set(static_cast<int64_t>(stats->free));
    process_metrics_.heap_known = true;
  }
  std::vector<const metrics::WorkerMetrics*> all;
  for (const auto& worker : workers_) all.push_back(&worker->metrics());
  metrics::Families families = metrics::collect(all, process_metrics_);
  collect_layer<h2::HandshakeStats>(families, all);
  collect_layer<tunnel::TunnelStats>(families, all);
  collect_layer<gateway::GatewayStats>(families, all);
  collect_layer<client::CaptureStats>(families, all);
  if (control_plane_) control_plane_->collect(families);
  return prometheus::TextSerializer().Serialize(families);
}

std::string Daemon::config_dump() const {
  std::shared_ptr<const tunnel::PeerPolicy> snapshot = snapshots_.current();
  if (!control_plane_) return snapshot->config_dump;
  // The mesh of the snapshot in force, and the stream's state, after the config: JSON is
  // YAML's flow style, so the document stays one YAML mapping.
  std::string out = snapshot->config_dump;
  if (control_plane_->has_xds()) {
    nlohmann::json mesh;
    snapshot->mesh->dump(mesh);
    for (const char* part : {"workloads", "services", "policies"}) out += std::string(part) + ": " + mesh[part].dump() + "\n";
    out += "xds_status: " + control_plane_->status().dump() + "\n";
  }
  if (auto certificates = control_plane_->certificates(); !certificates.is_null()) {
    out += "certificates: " + certificates.dump() + "\n";
  }
  if (node_) {
    // The pods the CNI agent handed over, and their identities' certificates.
    out += "pods: " + node_->pods().dump() + "\n";
    out += "workload_certificates: " + node_->certificates().dump() + "\n";
  }
  return out;
}

std::string Daemon::tunnels_json() const {
  nlohmann::json out;
  out["connections"] = nlohmann::json::array();
  out["unresponsive_workers"] = nlohmann::json::array();
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto connections = workers_[i]->describe(std::chrono::seconds(2));
    if (!connections) {
      out["unresponsive_workers"].push_back(i);
      continue;
    }
    for (auto& conn : *connections) out["connections"].push_back(std::move(conn));
  }
  return out.dump(2) + "\n";
}

void Daemon::drain_or_stop() {
  if (draining_.exchange(true)) {
    spdlog::info("stopping now");
    for (auto& worker : workers_) worker->stop();
    return;
  }
  spdlog::info("draining (deadline {}ms)", config_.drain_timeout.count());
  SystemdNotifier::stopping();
  for (auto& worker : workers_) worker->drain();
}

void Daemon::watch_heap() {
  // Reused without asking the OS again; above it, free heap goes back (within kReleasePeriod), so RSS
  // returns near its baseline once a load is gone (limits.buffer_memory bounds the peak).
  constexpr uint64_t kKeepFree = 2u << 20;
  uint64_t released = admin::release_free_heap(kKeepFree);
  if (released) {
    process_metrics_.heap_released.add(released);
    spdlog::debug("returned {} MiB of free heap to the OS", released >> 20);
  }
}

namespace {

int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::map<std::string, Daemon::AddedListener> Daemon::bind_added_listeners(
    const std::vector<config::ListenerConfig>& wanted) const {
  std::map<std::string, AddedListener> added;
  for (size_t l = 0; l < wanted.size(); ++l) {
    std::string key = listener_key(wanted, l);
    if (client_listeners_.count(key)) continue;
    // Throws (a port taken): what was bound here closes again, nothing else has changed.
    added.emplace(key, AddedListener{bind_all("client.listeners[" + std::to_string(l) + "].listen",
                                              wanted[l].listen, config_.workers),
                                     wanted[l].target});
  }
  return added;
}

void Daemon::update_client_listeners(const std::vector<config::ListenerConfig>& wanted,
                                     std::map<std::string, AddedListener> added) {
  std::set<std::string> keys;
  for (size_t l = 0; l < wanted.size(); ++l) keys.insert(listener_key(wanted, l));
  for (auto it = client_listeners_.begin(); it != client_listeners_.end();) {
    bool kept = keys.count(it->first) > 0;
    if (kept) {
      ++it;
      continue;
    }
    for (auto& worker : workers_) worker->remove_client_listener(it->first);
    own_listeners_.remove(it->second.bound);
    spdlog::info("client.listeners: {} removed by the reload (its open tunnels carry on)", it->second.bound.to_string());
    it = client_listeners_.erase(it);
  }
  for (size_t l = 0; l < wanted.size(); ++l) {
    auto found = client_listeners_.find(listener_key(wanted, l));
    if (found == client_listeners_.end() || found->second.target.to_string() == wanted[l].target.to_string()) continue;
    found->second.target = wanted[l].target;
    for (auto& worker : workers_) worker->retarget_client_listener(found->first, wanted[l].target);
    spdlog::info("client.listeners: {} now tunnels to {}", found->second.bound.to_string(), wanted[l].target.to_string());
  }
  for (auto& [key, listener] : added) {
    address::HostPort bound = listener.sockets.address;
    auto fds = announce(std::move(listener.sockets), own_listeners_);
    for (unsigned i = 0; i < config_.workers; ++i) workers_[i]->add_client_listener(key, std::move(fds[i]), listener.target);
    client_listeners_[key] = ClientListenerState{std::move(bound), listener.target};
  }
}

void Daemon::refresh_host_addresses() {
  try {
    own_listeners_.set_host(net::HostAddresses::read());
  } catch (const std::system_error& e) {
    spdlog::error("cannot read this host's addresses again ({}); the last ones stay in force", e.what());
    return;
  }
  spdlog::info("host addresses changed: {} now, none of them dialled unless allowed_destinations names it",
               own_listeners_.host().size());
  auto own = std::make_shared<const net::OwnListeners>(own_listeners_);
  for (auto& worker : workers_) worker->set_own_listeners(own);
}

void Daemon::apply(const std::shared_ptr<const tunnel::PeerPolicy>& policy) {
  // Binding is the daemon's, not a worker's: it reads the listeners from the snapshot the
  // workers get. A role is added or removed only by a restart.
  // What can fail comes first (binding a new listener, which throws): then nothing of this
  // reload applies.
  if (config_.client) {
    update_client_listeners(policy->listeners, bind_added_listeners(policy->listeners));
  }
  admission_.set_limits(policy->limits.max_tunnels, policy->limits.max_tunnels_per_identity);
  budget_.set_limit(policy->limits.buffer_memory);
  process_metrics_.buffer_budget = policy->limits.buffer_memory;
  auto own = std::make_shared<const net::OwnListeners>(own_listeners_);
  for (auto& worker : workers_) worker->reload(policy, own);
  if (node_) node_->apply(policy);
  publish_expiry(*policy);
  warn_expiry(*policy);
}

void Daemon::publish_expiry(const tunnel::PeerPolicy& policy) {
  if (policy.own_chain.empty()) return;
  process_metrics_.own_certificate_expiry = unix_seconds(policy.own_chain.front().not_after);
  auto soonest = std::min_element(policy.ca_bundle.begin(), policy.ca_bundle.end(),
                                  [](const auto& a, const auto& b) { return a.not_after < b.not_after; });
  process_metrics_.ca_certificate_expiry = unix_seconds(soonest->not_after);
}

void Daemon::warn_expiry(const tunnel::PeerPolicy& policy) {
  // A provider's certificates are short-lived by design and renewed by it (its failures are
  // logged where they happen): only a file someone must replace is warned about.
  if (policy.own_chain.empty() || !config_.identity.files()) return;
  const std::string& cert = policy.tls_files.cert;
  const tls::CertificateInfo& own = policy.own_chain.front();
  auto left = own.not_after - std::chrono::system_clock::now();
  if (left > std::chrono::hours(24) || expiry_warned_ == own.serial) return;
  expiry_warned_ = own.serial;
  auto hours = std::chrono::duration_cast<std::chrono::hours>(left).count();
  if (left <= std::chrono::seconds(0)) {
    spdlog::warn("tls.cert {} (serial {}) EXPIRED {} h ago: peers will refuse it", cert, own.serial,
                 -hours);
  } else {
    spdlog::warn("tls.cert {} (serial {}) expires in {} h", cert, own.serial, hours);
  }
}

std::string Daemon::certs_json() const {
  std::shared_ptr<const tunnel::PeerPolicy> policy = snapshots_.current();
  auto now = std::chrono::system_clock::now();
  auto describe = [now](const std::vector<tls::CertificateInfo>& certs) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : certs) {
      list.push_back({{"subject", c.subject},
                      {"spiffe_id", c.spiffe_id},
                      {"serial", c.serial},
                      {"not_before", unix_seconds(c.not_before)},
                      {"not_after", unix_seconds(c.not_after)},
                      {"seconds_to_expiry", unix_seconds(c.not_after) - unix_seconds(now)}});
    }
    return list;
  };
  nlohmann::json out{{"certificate_chain", describe(policy->own_chain)}, {"ca_bundle", describe(policy->ca_bundle)}};
  return out.dump(2) + "\n";
}

Daemon::~Daemon() {
  metrics_endpoint_.reset();  // no admin thread may reach into the workers from here on
  admin_.reset();
  for (auto& worker : workers_) worker->stop();
  for (auto& worker : workers_) worker->join();
  node_.reset();  // its namespace thread answers on the workers' loops: gone before them
  workers_.clear();
}

int Daemon::run() {
  raise_fd_limit();
  net::UvHandle<uv_signal_t> sigterm, sigint, sighup;
  auto on_term = [&] {
    spdlog::info("SIGTERM");
    drain_or_stop();
    if (!running_) main_loop_.stop();  // still waiting for a certificate
  };
  auto on_int = [&] {
    spdlog::info("SIGINT: stopping");
    for (auto& worker : workers_) worker->stop();
    if (!running_) main_loop_.stop();
  };
  auto on_hup = [&] {
    spdlog::info("SIGHUP: reloading the config");
    reloader_.reload("SIGHUP");
  };
  std::function<void()> term_handler = on_term, int_handler = on_int, hup_handler = on_hup;
  for (auto [handle, signum, handler] : {std::tuple{&sigterm, SIGTERM, &term_handler},
                                         {&sigint, SIGINT, &int_handler},
                                         {&sighup, SIGHUP, &hup_handler}}) {
    uv_signal_init(main_loop_.uv(), handle->get());
    handle->initialized();
    handle->get()->data = handler;
    uv_signal_start(
        handle->get(),
        [](uv_signal_t* h, int) { (*static_cast<std::function<void()>*>(h->data))(); }, signum);
    uv_unref(handle->base());  // signals alone do not keep the main loop alive
  }
  std::signal(SIGPIPE, SIG_IGN);
  reloader_.start(main_loop_.uv());
  // Before the workers start: an address added from here on is seen by its announcement.
  net::AddressWatcher addresses(main_loop_.uv(), [this] { refresh_host_addresses(); });
  own_listeners_.set_host(net::HostAddresses::read());  // what changed since the constructor read them
  warn_expiry(*snapshots_.current());
  net::Timer expiry_check(main_loop_.uv(), [this] { warn_expiry(*snapshots_.current()); });
  expiry_check.start(std::chrono::minutes(1), std::chrono::minutes(1));
  net::Timer heap_watch(main_loop_.uv(), [this] { watch_heap(); });
  heap_watch.start(std::chrono::seconds(0), admin::kReleasePeriod);

  notifier_.emplace(main_loop_);
  if (control_plane_) {
    control_plane_->start();
    if (!control_plane_->has_certificate()) {
      // No worker serves before it has a certificate (istiod's CA, a SPIFFE agent).
      spdlog::info("waiting for a certificate ({}) before serving", config_.identity.provider);
      SystemdNotifier::status("waiting for a certificate (" + config_.identity.provider + ")");
      control_plane_->on_first_certificate([this] { main_loop_.stop(); });
      main_loop_.run();  // until then, or a signal
      if (!control_plane_->has_certificate()) {
        reloader_.stop();
        spdlog::info("hbone stopped before it had a certificate");
        return 0;
      }
    }
  }
  auto own = std::make_shared<const net::OwnListeners>(own_listeners_);
  for (auto& worker : workers_) worker->start(own);
  if (node_) node_->start();
  running_ = true;
  std::vector<net::EventLoop*> loops;
  for (auto& worker : workers_) loops.push_back(&worker->loop());
  notifier_->watch(std::move(loops));
  SystemdNotifier::ready();
  spdlog::info("hbone running: {} worker(s){}{}{}", config_.workers, config_.gateway ? ", gateway" : "",
               config_.client ? ", client" : "", config_.node ? ", node (pods from " + config_.node->zds_socket + ")" : "");

  // The main loop only waits for signals; a thread watches the workers finish.
  net::UvHandle<uv_async_t> all_done;
  uv_async_init(main_loop_.uv(), all_done.get(), [](uv_async_t* h) { static_cast<net::EventLoop*>(h->data)->stop(); });
  all_done.initialized();
  all_done.get()->data = &main_loop_;
  std::thread joiner([&] {
    for (auto& worker : workers_) worker->join();
    uv_async_send(all_done.get());
  });
  main_loop_.run();
  joiner.join();
  reloader_.stop();  // its handles belong to the main loop
  spdlog::info("hbone stopped");
  return 0;
}

}  // namespace hbone::daemon
