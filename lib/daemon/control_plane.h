#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>

#include "config/config.h"
#include "metrics/family.h"
#include "metrics/worker_metrics.h"
#include "net/event_loop.h"
#include "tunnel/snapshot_publisher.h"
#include "worker/buffer_budget.h"
#include "worker/context.h"
#include "xds/ads_client.h"
#include "xds/mesh_updater.h"

namespace hbone::daemon {

// The control-plane thread's work (the main loop, as Envoy's main thread runs its xDS):
// the delta-ADS stream to istiod and the mesh it describes, published as part of every
// snapshot. The workers only ever see the snapshots; nothing here waits on them, nor they
// on it.
class ControlPlane {
 public:
  // Throws tls::TlsSetupError when xds.root_ca cannot be used.
  ControlPlane(net::EventLoop& loop, const config::Config& config, tunnel::SnapshotPublisher& snapshots);

  void start() { ads_.start(); }
  // Any thread: every subscribed type has been ACKed once (readiness).
  bool synced() const { return ads_.synced(); }
  // Any thread: the stream's state (/config_dump's "xds").
  nlohmann::json status() const;
  void collect(metrics::Families& out) const { ads_.collect(out); }

 private:
  // The istiod connection's own H2 counters: not among the workers' (they count tunnels).
  metrics::WorkerMetrics metrics_;
  worker::BufferBudget budget_{0};
  worker::BufferGate buffers_;
  worker::Context context_;
  xds::MeshUpdater mesh_;
  xds::AdsClient ads_;
};

}  // namespace hbone::daemon
