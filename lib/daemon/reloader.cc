#include "daemon/reloader.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <utility>

#include "config/config_loader.h"
#include "util/file.h"

namespace hbone::daemon {
namespace {

// Files' bytes, hashed: a watch acts only when they changed (a directory holds other
// files, and an editor may write the same bytes again).
size_t fingerprint(std::initializer_list<std::optional<std::string>> texts) {
  std::string all;
  for (const auto& text : texts) all += text.value_or("") + '\0';
  return std::hash<std::string>{}(all);
}

size_t fingerprint(const tls::Credentials& files) {
  return fingerprint({util::read_file(files.cert), util::read_file(files.key), util::read_file(files.ca)});
}

}  // namespace

Reloader::Reloader(const config::Config& started, std::string config_path, metrics::ProcessMetrics& metrics,
                   tunnel::SnapshotPublisher& publisher)
    : started_(started),
      config_path_(std::move(config_path)),
      metrics_(metrics),
      publisher_(publisher),
      watched_(publisher.current()->tls_files),
      config_fingerprint_(fingerprint({util::read_file(config_path_)})) {}

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
  std::optional<std::string> text = util::read_file(config_path_);  // read once: what is hashed is what is loaded
  config_fingerprint_ = fingerprint({text});
  auto snapshot = publish(trigger, [&](tunnel::SnapshotInputs& inputs) {
    if (!text) throw config::ConfigError({config_path_ + ": (file): cannot open config file"});
    config::LoadResult loaded = config::load_config_string(*text, config_path_);
    for (const auto& warning : loaded.warnings) spdlog::warn("reload: {}", warning);
    config::ReloadPlan plan = config::plan_reload(started_, loaded.config);
    for (const auto& key : plan.restart_keys) {
      spdlog::warn("reload: {} changed in {}; it takes effect at the next restart", key, config_path_);
    }
    inputs.config = std::move(plan.effective);
  });
  if (!snapshot) return false;
  const auto& tls = snapshot->server_tls ? snapshot->server_tls : snapshot->client_tls;
  spdlog::info("reload ({}): live keys applied from {} (identity {}); open tunnels kept unless a policy now "
               "denies them",
               trigger, config_path_, tls ? tls->identity() : "none: plaintext_h2c");
  return true;
}

void Reloader::reload_certificates() {
  size_t now = fingerprint(watched_);
  if (now == tls_fingerprint_) return;  // another file of the directory changed
  tls_fingerprint_ = now;
  // The same inputs: the files are read again. A failure is retried on the next change.
  auto snapshot = publish("tls.watch: certificate files changed", [](tunnel::SnapshotInputs&) {});
  if (!snapshot) return;
  const auto& tls = snapshot->server_tls ? snapshot->server_tls : snapshot->client_tls;
  spdlog::info("tls.watch: certificates reloaded (identity {}, serial {}); open tunnels kept", tls->identity(),
               snapshot->own_chain.front().serial);
}

std::shared_ptr<const tunnel::PeerPolicy> Reloader::publish(const char* trigger, const std::function<void(tunnel::SnapshotInputs&)>& change) {
  std::shared_ptr<const tunnel::PeerPolicy> snapshot;
  try {
    snapshot = publisher_.publish(change);
  } catch (const config::ConfigError& e) {
    for (const auto& problem : e.problems()) spdlog::error("reload failed, nothing changed ({}): {}", trigger, problem);
    metrics_.reloads_failed.add();
    return nullptr;
  } catch (const std::exception& e) {
    spdlog::error("reload failed, nothing changed ({}): {}", trigger, e.what());
    metrics_.reloads_failed.add();
    return nullptr;
  }
  metrics_.reloads_ok.add();
  const tls::Credentials& files = snapshot->tls_files;
  if (files.cert != watched_.cert || files.key != watched_.key || files.ca != watched_.ca) {
    watched_ = files;
    if (loop_) watch_certificates();
  }
  return snapshot;
}

void Reloader::watch_certificates() {
  certificate_watch_.reset();
  // No files to watch with a certificate from istiod's CA.
  if (!started_.tls.watch || started_.tls.plaintext_h2c || !started_.identity.files()) return;
  tls_fingerprint_ = fingerprint(watched_);
  try {
    certificate_watch_.emplace(loop_, std::vector<std::string>{watched_.cert, watched_.key, watched_.ca},
                               std::chrono::milliseconds(200), [this] { reload_certificates(); });
  } catch (const std::runtime_error& e) {
    spdlog::warn("tls.watch: {}; certificates reload on SIGHUP only", e.what());
  }
}

void Reloader::watch_config() {
  if (!started_.watch_config) return;
  try {
    config_watch_.emplace(loop_, std::vector<std::string>{config_path_}, std::chrono::milliseconds(200), [this] {
      if (fingerprint({util::read_file(config_path_)}) != config_fingerprint_) reload("the config file changed");
    });
  } catch (const std::runtime_error& e) {
    spdlog::warn("watch_config: {}; the config reloads on SIGHUP only", e.what());
  }
}

}  // namespace hbone::daemon
