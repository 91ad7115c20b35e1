// hbone: HBONE (HTTP/2 CONNECT over mTLS) client and gateway.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "config/config_loader.h"
#include "log/json_formatter.h"
#include "daemon/daemon.h"
#include "hbone/version.h"
#include "tunnel/peer_policy.h"
#include "top.h"

namespace {

using hbone::config::ConfigError;
using hbone::config::LoadResult;

struct Loaded {
  LoadResult result;
  std::shared_ptr<const hbone::tunnel::PeerPolicy> policy;  // its TLS contexts, built once
};

// Loads and fully validates a config, TLS material included. Prints every problem.
std::optional<Loaded> load(const std::string& path) {
  try {
    LoadResult result = hbone::config::load_config_file(path);
    for (const auto& warning : result.warnings) std::cerr << "warning: " << warning << "\n";
    auto policy = hbone::tunnel::PeerPolicy::build(result.config);
    return Loaded{std::move(result), std::move(policy)};
  } catch (const ConfigError& e) {
    for (const auto& problem : e.problems()) std::cerr << "error: " << problem << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << path << ": " << e.what() << "\n";
  }
  return std::nullopt;
}

// tcmalloc reads its settings once, at load (gperftools has no way to change them later):
// hbone re-executes itself with those it needs, unless the environment names them already.
//  - TCMALLOC_SAMPLE_PARAMETER, so that /debug/pprof/heap has samples: one per 512 KiB. At
//    4 MiB a daemon whose heap is ~10 MiB gave profiles of 0-3 samples. It once cost ~20% of
//    CPU under load, while BoringSSL allocated a buffer per TLS record; with hbone's own
//    record layer it is within noise (perf/RESULTS.md, session 15).
//  - TCMALLOC_TRANSFER_NUM_OBJ, the objects a thread's cache hands on at once (32 by
//    default): freed objects wait in the shared transfer cache in such batches, up to 64 of
//    them (1 MiB at most) per size class, and it gives nothing back to the OS. After 10,000
//    tunnels it held 5-6 MiB of each daemon's RSS for good; batches of 8 hold about half
//    (perf/RESULTS.md, session 16).
void tune_tcmalloc(char** argv) {
  if (!HBONE_HAVE_TCMALLOC) return;
  bool set = false;
  for (auto [name, value] : {std::pair{"TCMALLOC_SAMPLE_PARAMETER", "524288"}, {"TCMALLOC_TRANSFER_NUM_OBJ", "8"}}) {
    if (std::getenv(name)) continue;
    setenv(name, value, 1);
    set = true;
  }
  if (set) execv("/proc/self/exe", argv);
  // exec failed: carry on with tcmalloc's defaults.
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hbone: carries TCP through HBONE tunnels (HTTP/2 CONNECT over mutual TLS)"};
  std::string config_path;
  std::string check_path;
  auto* run_opt = app.add_option("--config", config_path, "Run with this YAML config")
                      ->check(CLI::ExistingFile);
  auto* check_opt = app.add_option("--check-config", check_path,
                                   "Validate a config (including certificates) and exit 0/1");
  run_opt->excludes(check_opt);
  bool print_keys = false;
  app.add_flag("--config-keys", print_keys, "Print every config key (default, reload, meaning) as a Markdown table");
  auto* top = app.add_subcommand("top", "Live view of a running hbone's tunnels (from its admin endpoint)");
  std::string top_admin = "127.0.0.1:15000";
  int top_interval_ms = 1000;
  bool top_once = false;
  top->add_option("--admin", top_admin, "Admin address of the hbone to watch")->capture_default_str();
  top->add_option("--interval-ms", top_interval_ms, "Refresh period")->capture_default_str();
  top->add_flag("--once", top_once, "Print one frame and exit");
  app.set_version_flag("--version", std::string("hbone ") + hbone::kVersion + " (TLS: " +
                                        hbone::kTlsBackend + ")");
  CLI11_PARSE(app, argc, argv);
  if (print_keys) {
    std::cout << hbone::config::key_table();
    return 0;
  }
  if (top->parsed()) {
    return hbone::cmd::run_top(top_admin, std::chrono::milliseconds(top_interval_ms), top_once);
  }

  auto logger = spdlog::stderr_color_mt("hbone");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");

  if (!check_path.empty()) {
    auto loaded = load(check_path);
    if (!loaded) return 1;
    std::cout << check_path << ": OK\n";
    return 0;
  }
  if (config_path.empty()) {
    std::cerr << app.help();
    return 2;
  }
  tune_tcmalloc(argv);
  auto loaded = load(config_path);
  if (!loaded) return 1;
  hbone::log::configure(loaded->result.config.log.json);  // before the level: it applies to both loggers
  spdlog::set_level(spdlog::level::from_str(loaded->result.config.log_level));
  try {
    hbone::daemon::Daemon daemon(std::move(loaded->result.config), config_path, std::move(loaded->policy));
    return daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
