#include "daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <uv.h>

#include <prometheus/text_serializer.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <system_error>

#include "config/config_loader.h"
#include "metrics/collector.h"
#include "net/event_loop.h"
#include "net/listen_socket.h"
#include "net/uv_handle.h"

namespace hbone::daemon {
namespace {

// Binds `address` once per worker. Port 0 is resolved by the first bind so that all
// workers share one port.
std::vector<net::Fd> bind_all(const std::string& key, net::HostPort address, unsigned workers) {
  std::vector<net::Fd> fds;
  for (unsigned i = 0; i < workers; ++i) {
    try {
      fds.push_back(net::listen_on(address));
    } catch (const std::system_error& e) {
      throw StartupError(key + ": cannot listen on " + address.to_string() + ": " +
                         e.code().message());
    }
    if (address.port == 0) address = net::local_address(fds.back().get());
  }
  spdlog::info("{}: listening on {}", key, address.to_string());
  return fds;
}

}  // namespace

TlsContexts TlsContexts::build(const config::Config& config) {
  TlsContexts contexts;
  if (config.gateway) contexts.server.emplace(config.tls, tls::TlsContext::Role::server);
  if (config.client) contexts.client.emplace(config.tls, tls::TlsContext::Role::client);
  return contexts;
}

Daemon::Daemon(config::Config config) : config_(std::move(config)), tls_(TlsContexts::build(config_)) {
  std::vector<WorkerSockets> sockets(config_.workers);
  if (config_.gateway) {
    auto fds = bind_all("gateway.listen", config_.gateway->listen, config_.workers);
    for (unsigned i = 0; i < config_.workers; ++i) sockets[i].gateway = std::move(fds[i]);
  }
  if (config_.client) {
    for (size_t l = 0; l < config_.client->listeners.size(); ++l) {
      auto fds = bind_all("client.listeners[" + std::to_string(l) + "].listen",
                          config_.client->listeners[l].listen, config_.workers);
      for (unsigned i = 0; i < config_.workers; ++i) sockets[i].client.push_back(std::move(fds[i]));
    }
  }
  for (unsigned i = 0; i < config_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(
        i, config_, admission_, tls_.server ? &*tls_.server : nullptr, tls_.client ? &*tls_.client : nullptr,
        std::move(sockets[i])));
  }
  try {
    admin_ = std::make_unique<admin::AdminServer>(config_.admin.listen, admin_hooks());
  } catch (const std::runtime_error& e) {
    throw StartupError(e.what());
  }
  spdlog::info("admin.listen: listening on {}", config_.admin.listen.to_string());
}

admin::AdminHooks Daemon::admin_hooks() {
  return {
      .metrics_text = [this] { return metrics_text(); },
      .tunnels_json = [this] { return tunnels_json(); },
      .config_dump = [this] { return config::dump_config(config_); },
      .ready = [this] { return running_.load() && !draining_.load(); },
      .drain = [this] { drain_or_stop(); },
  };
}

std::string Daemon::metrics_text() const {
  std::vector<const metrics::WorkerMetrics*> all;
  for (const auto& worker : workers_) all.push_back(&worker->metrics());
  return prometheus::TextSerializer().Serialize(metrics::collect(all));
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
  for (auto& worker : workers_) worker->drain();
}

Daemon::~Daemon() {
  admin_.reset();  // no admin thread may reach into the workers from here on
  for (auto& worker : workers_) worker->stop();
  workers_.clear();
}

int Daemon::run() {
  net::EventLoop main_loop;
  net::UvHandle<uv_signal_t> sigterm, sigint;
  auto on_term = [&] {
    spdlog::info("SIGTERM");
    drain_or_stop();
  };
  auto on_int = [&] {
    spdlog::info("SIGINT: stopping");
    for (auto& worker : workers_) worker->stop();
  };
  std::function<void()> term_handler = on_term, int_handler = on_int;
  for (auto [handle, signum, handler] :
       {std::tuple{&sigterm, SIGTERM, &term_handler}, {&sigint, SIGINT, &int_handler}}) {
    uv_signal_init(main_loop.uv(), handle->get());
    handle->initialized();
    handle->get()->data = handler;
    uv_signal_start(
        handle->get(),
        [](uv_signal_t* h, int) { (*static_cast<std::function<void()>*>(h->data))(); }, signum);
    uv_unref(handle->base());  // signals alone do not keep the main loop alive
  }
  std::signal(SIGPIPE, SIG_IGN);

  for (auto& worker : workers_) worker->start();
  running_ = true;
  spdlog::info("hbone running: {} worker(s){}{}", config_.workers,
               config_.gateway ? ", gateway" : "", config_.client ? ", client" : "");

  // The main loop only waits for signals; a thread watches the workers finish.
  net::UvHandle<uv_async_t> all_done;
  uv_async_init(main_loop.uv(), all_done.get(), [](uv_async_t* h) { uv_stop(h->loop); });
  all_done.initialized();
  std::thread joiner([&] {
    for (auto& worker : workers_) worker->join();
    uv_async_send(all_done.get());
  });
  main_loop.run();
  joiner.join();
  spdlog::info("hbone stopped");
  return 0;
}

}  // namespace hbone::daemon
