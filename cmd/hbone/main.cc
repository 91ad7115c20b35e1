// hbone: HBONE (HTTP/2 CONNECT over mTLS) client and gateway.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "config/config_loader.h"
#include "daemon/daemon.h"
#include "hbone/version.h"

namespace {

using hbone::config::ConfigError;
using hbone::config::LoadResult;

// Loads and fully validates a config, TLS material included. Prints every problem.
std::optional<LoadResult> load(const std::string& path) {
  try {
    LoadResult result = hbone::config::load_config_file(path);
    for (const auto& warning : result.warnings) std::cerr << "warning: " << warning << "\n";
    hbone::daemon::TlsContexts::build(result.config);
    return result;
  } catch (const ConfigError& e) {
    for (const auto& problem : e.problems()) std::cerr << "error: " << problem << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << path << ": " << e.what() << "\n";
  }
  return std::nullopt;
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
  app.set_version_flag("--version", std::string("hbone ") + hbone::kVersion + " (TLS: " +
                                        hbone::kTlsBackend + ")");
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("hbone");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");

  if (!check_path.empty()) {
    auto result = load(check_path);
    if (!result) return 1;
    std::cout << check_path << ": OK\n";
    return 0;
  }
  if (config_path.empty()) {
    std::cerr << app.help();
    return 2;
  }
  auto result = load(config_path);
  if (!result) return 1;
  spdlog::set_level(spdlog::level::from_str(result->config.log_level));
  try {
    hbone::daemon::Daemon daemon(std::move(result->config));
    return daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
