#include "daemon/reloader.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "config/config_loader.h"

namespace hbone::daemon {
namespace {

// A file's bytes; nullopt when it cannot be read.
std::optional<std::string> contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Files' bytes, hashed: a watch acts only when they changed (a directory holds other
// files, and an editor may write the same bytes again).
size_t fingerprint(std::initializer_list<std::optional<std::string>> texts) {
  std::string all;
  for (const auto& text : texts) all += text.value_or("") + '\0';
  return std::hash<std::string>{}(all);
}

size_t fingerprint(const tls::Credentials& files) {
  return fingerprint({contents(files.cert), contents(files.key), contents(files.ca)});
}

}  // namespace

Reloader::Reloader(const config::Config& started, tls::Credentials files, std::string config_path,
                   metrics::ProcessMetrics& metrics, Apply apply)
    : started_(started),
      effective_(started),
      files_(std::move(files)),
      config_path_(std::move(config_path)),
      metrics_(metrics),
      apply_(std::move(apply)),
      config_fingerprint_(fingerprint({contents(config_path_)})) {}

void Reloader::start(uv_loop_t* loop) {
  loop_ = loop;
  watch_certificates();
  watch_config();
}

void Reloader::stop() {
  certificate_watch_.reset();  // their handles belong to the loop
  config_watch_.reset();
  loop_ = nullptr;
}

bool Reloader::reload(const char* trigger) {
  config::Config effective;
  std::shared_ptr<const tunnel::PeerPolicy> policy;
  std::optional<std::string> text = contents(config_path_);  // read once: what is hashed is what is loaded
  config_fingerprint_ = fingerprint({text});
  try {
    if (!text) throw config::ConfigError({config_path_ + ": (file): cannot open config file"});
    config::LoadResult loaded = config::load_config_string(*text, config_path_);
    for (const auto& warning : loaded.warnings) spdlog::warn("reload: {}", warning);
    config::ReloadPlan plan = config::plan_reload(started_, loaded.config);
    effective = std::move(plan.effective);
    for (const auto& key : plan.restart_keys) {
      spdlog::warn("reload: {} changed in {}; it takes effect at the next restart", key, config_path_);
    }
    policy = tunnel::PeerPolicy::build(effective);
  } catch (const config::ConfigError& e) {
    for (const auto& problem : e.problems()) spdlog::error("reload failed, nothing changed ({}): {}", trigger, problem);
    metrics_.reloads_failed.add();
    return false;
  } catch (const std::exception& e) {
    spdlog::error("reload failed, nothing changed ({}): {}: {}", trigger, config_path_, e.what());
    metrics_.reloads_failed.add();
    return false;
  }
  const auto& tls = policy->server_tls ? policy->server_tls : policy->client_tls;
  std::string identity = tls ? tls->identity() : "none: plaintext_h2c";
  if (!apply(policy, std::move(effective), trigger)) return false;
  metrics_.reloads_ok.add();
  spdlog::info("reload ({}): live keys applied from {} (identity {}); open tunnels kept unless a policy now "
               "denies them",
               trigger, config_path_, identity);
  return true;
}

bool Reloader::apply(const std::shared_ptr<const tunnel::PeerPolicy>& policy, config::Config effective,
                     const char* trigger) {
  try {
    apply_(policy, effective);
  } catch (const std::runtime_error& e) {
    spdlog::error("reload failed, nothing changed ({}): {}", trigger, e.what());
    metrics_.reloads_failed.add();
    return false;
  }
  const tls::Credentials& files = policy->tls_files;
  bool paths_changed = files.cert != files_.cert || files.key != files_.key || files.ca != files_.ca;
  files_ = files;
  effective_ = std::move(effective);
  if (paths_changed && loop_) watch_certificates();
  return true;
}

void Reloader::watch_certificates() {
  certificate_watch_.reset();
  if (!effective_.tls.watch || effective_.tls.plaintext_h2c) return;
  tls_fingerprint_ = fingerprint(files_);
  try {
    certificate_watch_.emplace(loop_, std::vector<std::string>{files_.cert, files_.key, files_.ca},
                               std::chrono::milliseconds(200), [this] { reload_certificates(); });
  } catch (const std::runtime_error& e) {
    spdlog::warn("tls.watch: {}; certificates reload on SIGHUP only", e.what());
  }
}

void Reloader::watch_config() {
  if (!started_.watch_config) return;
  try {
    config_watch_.emplace(loop_, std::vector<std::string>{config_path_}, std::chrono::milliseconds(200), [this] {
      if (fingerprint({contents(config_path_)}) != config_fingerprint_) reload("the config file changed");
    });
  } catch (const std::runtime_error& e) {
    spdlog::warn("watch_config: {}; the config reloads on SIGHUP only", e.what());
  }
}

void Reloader::reload_certificates() {
  size_t now = fingerprint(files_);
  if (now == tls_fingerprint_) return;  // another file of the directory changed
  tls_fingerprint_ = now;
  std::shared_ptr<const tunnel::PeerPolicy> policy;
  try {
    policy = tunnel::PeerPolicy::build(effective_);
  } catch (const std::exception& e) {
    spdlog::error("tls.watch: certificate files changed but cannot be used, nothing changed (retried on the "
                  "next change): {}", e.what());
    metrics_.reloads_failed.add();
    return;
  }
  const auto& tls = policy->server_tls ? policy->server_tls : policy->client_tls;
  std::string identity = tls->identity(), serial = policy->own_chain.front().serial;
  if (!apply(policy, effective_, "tls.watch")) return;
  metrics_.reloads_ok.add();
  spdlog::info("tls.watch: certificates reloaded (identity {}, serial {}); open tunnels kept", identity, serial);
}

}  // namespace hbone::daemon
