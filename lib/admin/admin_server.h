#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "admin/http_server.h"
#include "address/host_port.h"

namespace hbone::admin {

// What the admin endpoints need from the daemon. Called on the admin server's threads, never a
// worker's: implementations read atomics or post to the workers' loops.
struct AdminHooks {
  std::function<std::string()> metrics_text;
  std::function<std::string()> tunnels_json;
  std::function<std::string()> config_dump;
  std::function<std::string()> certs_json;
  std::function<bool()> ready;    // listeners up, not draining
  std::function<void()> drain;    // as SIGTERM
};

// The admin HTTP endpoint (HttpServer's threads, off the data path). `full` serves:
//   GET  /metrics                          Prometheus text format
//   GET  /debug/pprof/profile?seconds=N&frequency=HZ   CPU profile (gperftools)
//   GET  /debug/pprof/heap                 heap sample (tcmalloc)
//   POST /memory/release                   hand all free heap back to the OS now
//   GET  /debug/tunnels                    JSON: tunnels and HTTP/2 connections
//   GET  /config_dump                      effective config (YAML)
//   GET  /certs                            JSON: our certificate chain and the CA bundle in use
//   GET  /healthz/ready                    200 when serving, 503 otherwise
//   POST /logging?level=LEVEL              change the log level
//   POST /quitquitquit                     start a drain (GET too, for a preStop httpGet hook)
// `metrics_only` (admin.metrics_listen, for Prometheus and probes from outside the pod)
// serves GET /metrics and GET /healthz/ready, nothing else: whoever reaches it cannot
// drain, reconfigure, profile or read the config.
class AdminServer {
 public:
  enum class Scope { full, metrics_only };

  // Throws std::runtime_error naming `key` when the address cannot be bound.
  AdminServer(const std::string& key, const address::HostPort& listen, Scope scope, AdminHooks hooks);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;
  // Where it listens (a configured port 0 resolved).
  const address::HostPort& address() const { return listen_; }

  struct Route;

 private:
  AdminHooks hooks_;
  address::HostPort listen_;
  std::vector<Route> routes_;
  std::unique_ptr<HttpServer> server_;  // last: stops before the routes go
};

}  // namespace hbone::admin
