#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "metrics/collector.h"
#include "net/file_watcher.h"
#include "tunnel/snapshot_publisher.h"

namespace hbone::daemon {

// What changes while hbone runs, and how it arrives. The config file's live keys (keys.h)
// are reloaded on SIGHUP and, with watch_config, when the file changes (watched by its
// directory, so a ConfigMap's `..data` symlink swap counts); tls.watch rebuilds the TLS
// contexts when the certificate files change. The file is one producer of the live
// snapshot (tunnel::SnapshotPublisher): an invalid file or certificate, or a snapshot the
// daemon cannot put in force, changes nothing, says why and counts one error; a good one
// counts one reload. Main thread only.
class Reloader {
 public:
  // New snapshots go to `publisher`; `started` is the config the process runs with (its
  // restart keys stay), alive as long as this.
  Reloader(const config::Config& started, std::string config_path, metrics::ProcessMetrics& metrics,
           tunnel::SnapshotPublisher& publisher);

  // Re-reads the config file: its live keys applied, other changed keys named (they need a
  // restart). `trigger` says why, for the log.
  bool reload(const char* trigger);
  // The watches, on `loop` (the main loop) until stop().
  void start(uv_loop_t* loop);
  void stop();

 private:
  // Publishes `change` and returns the snapshot now in force, counted as one reload; on
  // failure logs why, counts one error and returns null (the last good state stays).
  std::shared_ptr<const tunnel::PeerPolicy> publish(const char* trigger, const std::function<void(tunnel::SnapshotInputs&)>& change);
  void reload_certificates();
  void watch_certificates();
  void watch_config();

  const config::Config& started_;
  std::string config_path_;
  metrics::ProcessMetrics& metrics_;
  tunnel::SnapshotPublisher& publisher_;
  uv_loop_t* loop_ = nullptr;
  std::optional<net::FileWatcher> certificate_watch_;
  std::optional<net::FileWatcher> config_watch_;
  tls::Credentials watched_;       // the certificate files of the snapshot in force
  size_t tls_fingerprint_ = 0;     // their bytes at the last attempt
  size_t config_fingerprint_ = 0;  // the config file's bytes at the last reload
};

}  // namespace hbone::daemon
