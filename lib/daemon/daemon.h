#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "config/config.h"
#include "daemon/worker.h"
#include "tls/tls_context.h"

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

 private:
  config::Config config_;
  TlsContexts tls_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace hbone::daemon
