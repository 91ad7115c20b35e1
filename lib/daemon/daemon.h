#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "admin/admin_server.h"
#include "config/config.h"
#include "daemon/worker.h"
#include "tls/tls_context.h"
#include "tunnel/admission.h"

namespace hbone::daemon {

// A startup failure the operator must fix; what() names the config key.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The TLS contexts a config needs; built once, shared read-only by all workers.
struct TlsContexts {
  std::optional<tls::TlsContext> server;
  std::optional<tls::TlsContext> client;

  // Throws tls::TlsSetupError naming the tls.* key at fault.
  static TlsContexts build(const config::Config& config);
};

// The process: TLS setup, every listening socket bound up front (so a busy port fails
// the start, not a worker later), then one Worker per configured loop.
class Daemon {
 public:
  explicit Daemon(config::Config config);  // throws StartupError or tls::TlsSetupError
  ~Daemon();

  // Runs until SIGINT (stop now) or SIGTERM (drain); returns the exit code.
  int run();

  // Thread-safe. The first call drains (GOAWAY, finish tunnels, exit); later calls stop.
  void drain_or_stop();

 private:
  admin::AdminHooks admin_hooks();
  std::string metrics_text() const;
  std::string tunnels_json() const;

  config::Config config_;
  TlsContexts tls_;
  tunnel::Admission admission_{config_.limits.max_tunnels, config_.limits.max_tunnels_per_identity};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> running_{false};
  std::atomic<bool> draining_{false};
  std::unique_ptr<admin::AdminServer> admin_;  // last: stopped first
};

}  // namespace hbone::daemon
