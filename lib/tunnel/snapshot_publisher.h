#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "config/config.h"
#include "tunnel/peer_policy.h"

namespace hbone::tunnel {

// What a live snapshot is built from, each part set by the producer that owns it: the
// config file's live keys (daemon::Reloader: SIGHUP, a watched file change) and the
// certificate files they name; the control plane's workloads, services and policies
// (xds::MeshUpdater); the certificate its CA issued (ca::CaClient).
struct SnapshotInputs {
  config::Config config;  // the started config with the live keys of the last good reload
  std::shared_ptr<const mesh::MeshState> mesh{};  // null until istiod's first push
  std::shared_ptr<const tls::IssuedIdentity> issued{};  // identity.provider: istio_ca, once issued
};

// The one way a new snapshot comes into force. A producer changes its part of the inputs;
// the whole snapshot is built again from all of them and handed to the consumers (workers,
// listeners, admin, metrics), which see only snapshots and never know who produced one.
// All or nothing: when the build or the hand-over throws, inputs and snapshot stay as
// they were and the producer gets the error (to log, count, or NACK). Producers run on
// the main thread (as Envoy's main thread does its xDS); current() may be read anywhere.
class SnapshotPublisher {
 public:
  // Puts a snapshot in force everywhere, or throws std::runtime_error having changed nothing.
  using Apply = std::function<void(const std::shared_ptr<const PeerPolicy>&)>;

  // `first` was built from `inputs` and is in force already (the daemon's start); `apply`
  // hands each later one to the consumers.
  SnapshotPublisher(SnapshotInputs inputs, std::shared_ptr<const PeerPolicy> first, Apply apply);

  // `change` applied to a copy of the inputs, the snapshot built from them and put in
  // force; returns it. Throws whatever the build (config::ConfigError, tls::TlsSetupError)
  // or the hand-over threw, having changed nothing. A `change` that does nothing rebuilds
  // from the same inputs: certificate files are read again.
  std::shared_ptr<const PeerPolicy> publish(const std::function<void(SnapshotInputs&)>& change);

  const SnapshotInputs& inputs() const { return inputs_; }  // main thread
  std::shared_ptr<const PeerPolicy> current() const;       // any thread

 private:
  SnapshotInputs inputs_;
  Apply apply_;
  mutable std::mutex current_mutex_;  // current_ is written on the main thread, read by admin threads
  std::shared_ptr<const PeerPolicy> current_;
};

}  // namespace hbone::tunnel
