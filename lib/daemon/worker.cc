#include "daemon/worker.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <future>

#include "admin/heap.h"
#include "net/descriptor_reserve.h"

namespace hbone::daemon {

Worker::Worker(unsigned index, const config::Config& config, tunnel::Admission& admission,
               worker::BufferBudget& budget, net::ConnectionBalancer* balancer,
               std::shared_ptr<const tunnel::PeerPolicy> policy, WorkerSockets sockets)
    : index_(index),
      config_(config),
      admission_(admission),
      balancer_(balancer),
      policy_(std::move(policy)),
      sockets_(std::move(sockets)),
      buffers_(loop_, budget),
      context_{index_, loop_, config_, metrics_, buffers_} {
  context_.idle_timeout = policy_->limits.idle_timeout;
}

Worker::~Worker() { join(); }

void Worker::start(std::shared_ptr<const net::OwnListeners> own_listeners) {
  // A role without its TLS would serve h2c: never (a CA's certificate not come yet).
  if (!policy_->has_tls(config_)) throw std::logic_error("worker started without the certificate its roles need");
  own_listeners_ = std::move(own_listeners);
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::pin() {
  if (config_.cpu_affinity.empty()) return;
  unsigned cpu = config_.cpu_affinity[index_ % config_.cpu_affinity.size()];
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set); rc != 0) {
    spdlog::warn("cpu_affinity: worker {} stays unpinned: {}", index_, std::strerror(rc));
    return;
  }
  spdlog::info("cpu_affinity: worker {} runs on CPU {}", index_, cpu);
}

void Worker::run() {
  std::string name = "hbone-w" + std::to_string(index_);
  pthread_setname_np(pthread_self(), name.c_str());
  pin();
  context_.dial_below = net::DescriptorReserve::current().dial_below;
  if (sockets_.gateway) {
    gateway_.emplace(context_, policy_, admission_, balancer_, own_listeners_, std::move(*sockets_.gateway));
  }
  if (config_.client) {
    pools_.emplace(context_, policy_);
    for (size_t i = 0; i < sockets_.client.size(); ++i) {
      listeners_[listener_key(policy_->listeners, i)] = std::make_unique<client::ClientListener>(
          context_, admission_, *pools_, std::move(sockets_.client[i]), policy_->listeners[i].target);
    }
    if (sockets_.capture) capture_.emplace(context_, admission_, *pools_, std::move(*sockets_.capture));
  }
  // Per-tunnel byte rates for /debug/tunnels and `hbone top`.
  last_sample_ = std::chrono::steady_clock::now();
  rate_sampler_.emplace(loop_.uv(), [this] {
    auto now = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(now - last_sample_).count();
    last_sample_ = now;
    for_each_connection([seconds](h2::H2Connection& conn) { conn.sample_rates(seconds); });
    if (pools_) pools_->sweep();
    for (auto& [uid, pod] : pods_) pod->sweep();
    return_cache_after_burst();
  });
  rate_sampler_->start(std::chrono::seconds(1), std::chrono::seconds(1));
  loop_.run();
  // Tear down on this thread, while the loop can still run close callbacks.
  rate_sampler_.reset();
  listeners_.clear();
  capture_.reset();
  for (auto& [uid, pod] : pods_) retire_pod(std::move(pod));
  pods_.clear();
  loop_.run_nowait();  // the pods go now, while the node proxy's config they see is alive
  pools_.reset();
  gateway_.reset();
  drain_check_.reset();
  drain_deadline_.reset();
}

void Worker::return_cache_after_burst() {
  // What a burst's tunnels freed stays in this thread's allocator cache, in RSS and out of
  // reach of the daemon's release of free heap, until handed back: once the tunnels are at
  // most half of their peak (and many fewer), it goes back, and whole free pages with it.
  constexpr int64_t kBurst = 256;
  int64_t tunnels = metrics_.tunnels_active[metrics::kClient].value() + metrics_.tunnels_active[metrics::kGateway].value();
  tunnel_peak_ = std::max(tunnel_peak_, tunnels);
  if (tunnel_peak_ - tunnels < kBurst || tunnels > tunnel_peak_ / 2) return;
  admin::return_thread_cache();
  tunnel_peak_ = tunnels;
}

void Worker::drain() {
  loop_.post([this] { on_drain(); });
}

void Worker::stop() {
  loop_.post([this] { on_stop(); });
}

void Worker::reload(std::shared_ptr<const tunnel::PeerPolicy> policy,
                    std::shared_ptr<const net::OwnListeners> own_listeners) {
  if (!thread_.joinable()) {
    // Not started (the daemon waits for its first certificate): the thread takes it as it starts.
    policy_ = std::move(policy);
    own_listeners_ = std::move(own_listeners);
    context_.idle_timeout = policy_->limits.idle_timeout;
    return;
  }
  loop_.post([this, policy = std::move(policy), own = std::move(own_listeners)] {
    policy_ = policy;
    own_listeners_ = own;
    context_.idle_timeout = policy->limits.idle_timeout;
    if (gateway_) {
      gateway_->set_own_listeners(own);
      gateway_->set_policy(policy);
    }
    if (pools_) pools_->set_policy(policy);
  });
}

void Worker::set_own_listeners(std::shared_ptr<const net::OwnListeners> own_listeners) {
  loop_.post([this, own = std::move(own_listeners)] {
    own_listeners_ = own;
    if (gateway_) gateway_->set_own_listeners(own);
  });
}

void Worker::add_client_listener(std::string key, net::Fd fd, address::HostPort target) {
  auto socket = std::make_shared<net::Fd>(std::move(fd));  // a posted task must be copyable
  loop_.post([this, key = std::move(key), socket, target = std::move(target)] {
    if (!pools_) return;  // stopping
    listeners_[key] = std::make_unique<client::ClientListener>(context_, admission_, *pools_, std::move(*socket), target);
  });
}

void Worker::retarget_client_listener(const std::string& key, address::HostPort target) {
  loop_.post([this, key, target = std::move(target)] {
    if (auto it = listeners_.find(key); it != listeners_.end()) it->second->set_target(target);
  });
}

void Worker::remove_client_listener(const std::string& key) {
  loop_.post([this, key] { listeners_.erase(key); });
}

void Worker::adopt_gateway_connection(net::Fd fd, std::string peer) {
  // Shared: a posted task must be copyable, a socket is not.
  auto socket = std::make_shared<net::Fd>(std::move(fd));
  loop_.post([this, socket, peer = std::move(peer)] {
    if (gateway_) gateway_->adopt(std::move(*socket), peer);
  });
}

void Worker::add_pod(std::string uid, PodSetup setup) {
  auto shared = std::make_shared<PodSetup>(std::move(setup));  // a posted task must be copyable
  loop_.post([this, uid = std::move(uid), shared] {
    if (drain_check_) return;  // draining: the pod's sockets close here
    std::unique_ptr<node::PodProxy>& pod = pods_[uid];
    if (pod) retire_pod(std::move(pod));  // a pod in a new sandbox: the old one's listeners go first
    pod = std::make_unique<node::PodProxy>(context_, admission_, shared->pod_config, std::move(shared->sockets),
                                                  std::move(shared->policy), std::move(shared->own_listeners),
                                                  std::move(shared->listeners));
  });
}

void Worker::set_pod_policy(const std::string& uid, std::shared_ptr<const tunnel::PeerPolicy> policy) {
  loop_.post([this, uid, policy = std::move(policy)] {
    if (auto it = pods_.find(uid); it != pods_.end()) it->second->set_policy(policy);
  });
}

void Worker::remove_pod(const std::string& uid) {
  loop_.post([this, uid] {
    auto it = pods_.find(uid);
    if (it == pods_.end()) return;
    retire_pod(std::move(it->second));
    pods_.erase(it);
  });
}

void Worker::retire_pod(std::unique_ptr<node::PodProxy> pod) {
  pod->close_all();  // its connections retire first, and are destroyed before it
  loop_.retire(std::move(pod));
}

template <typename F>
void Worker::for_each_connection(F&& f) {
  if (gateway_) gateway_->for_each_connection(f);
  if (pools_) pools_->for_each_connection(f);
  for (auto& [uid, pod] : pods_) pod->for_each_connection(f);
}

std::optional<nlohmann::json> Worker::describe(std::chrono::milliseconds timeout) {
  // Shared: if we time out, the task may still run later and must find it alive.
  auto result = std::make_shared<std::promise<nlohmann::json>>();
  auto future = result->get_future();
  loop_.post([this, result] {
    nlohmann::json connections = nlohmann::json::array();
    for_each_connection([&](h2::H2Connection& conn) { conn.describe(connections.emplace_back()); });
    result->set_value(std::move(connections));
  });
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

bool Worker::idle() const {
  for (const auto& [uid, pod] : pods_) {
    if (!pod->idle()) return false;
  }
  return (!gateway_ || gateway_->connection_count() == 0) && (!pools_ || pools_->connection_count() == 0) &&
         (!capture_ || capture_->direct_count() == 0);
}

void Worker::on_drain() {
  if (drain_check_) return;
  listeners_.clear();
  if (capture_) capture_->stop_accepting();
  if (gateway_) gateway_->drain();
  if (pools_) pools_->drain();
  for (auto& [uid, pod] : pods_) pod->drain();
  drain_check_.emplace(loop_.uv(), [this] {
    if (idle()) loop_.stop();
  });
  drain_check_->start(std::chrono::milliseconds(0), std::chrono::milliseconds(50));
  drain_deadline_.emplace(loop_.uv(), [this] {
    spdlog::warn("worker {}: drain deadline reached, closing remaining tunnels", index_);
    on_stop();
  });
  drain_deadline_->start(config_.drain_timeout);
}

void Worker::on_stop() {
  listeners_.clear();
  if (capture_) {
    capture_->stop_accepting();
    capture_->close_all();
  }
  if (gateway_) gateway_->close_all();
  if (pools_) pools_->close_all();
  for (auto& [uid, pod] : pods_) pod->close_all();
  loop_.stop();
}

}  // namespace hbone::daemon
