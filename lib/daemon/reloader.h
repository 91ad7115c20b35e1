#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "metrics/collector.h"
#include "net/file_watcher.h"
#include "tunnel/peer_policy.h"

namespace hbone::daemon {

// What changes while hbone runs, and how it arrives. The config file's live keys (keys.h)
// are reloaded on SIGHUP and, with watch_config, when the file changes (watched by its
// directory, so a ConfigMap's `..data` symlink swap counts); tls.watch rebuilds the TLS
// contexts when the certificate files change. Each change becomes a whole new PeerPolicy
// snapshot before anything is applied: an invalid file or certificate changes nothing,
// says why, and counts an error. Main thread only.
class Reloader {
 public:
  // Puts a snapshot and the config it came from in force (workers, /config_dump, metrics),
  // or throws std::runtime_error having changed nothing (a new listener's port taken).
  using Apply = std::function<void(std::shared_ptr<const tunnel::PeerPolicy>, const config::Config&)>;

  // `files`: the certificate files of the snapshot in force at the start.
  Reloader(const config::Config& started, tls::Credentials files, std::string config_path,
           metrics::ProcessMetrics& metrics, Apply apply);

  // Re-reads the config file: its live keys applied, other changed keys named (they need a
  // restart). `trigger` says why, for the log.
  bool reload(const char* trigger);
  // The watches, on `loop` (the main loop) until stop().
  void start(uv_loop_t* loop);
  void stop();
  // The started config with the live keys of the last reload.
  const config::Config& effective() const { return effective_; }

 private:
  // Hands a snapshot over and keeps its config; false (logged, counted) if it could not be
  // put in force, and then the last good state stays.
  bool apply(const std::shared_ptr<const tunnel::PeerPolicy>& policy, config::Config effective, const char* trigger);
  void reload_certificates();
  void watch_certificates();
  void watch_config();

  const config::Config& started_;
  config::Config effective_;
  tls::Credentials files_;  // of the snapshot in force: watched, fingerprinted
  std::string config_path_;
  metrics::ProcessMetrics& metrics_;
  Apply apply_;
  uv_loop_t* loop_ = nullptr;
  std::optional<net::FileWatcher> certificate_watch_;
  std::optional<net::FileWatcher> config_watch_;
  size_t tls_fingerprint_ = 0;     // the certificate files' bytes at the last attempt
  size_t config_fingerprint_ = 0;  // the config file's bytes at the last reload
};

}  // namespace hbone::daemon
