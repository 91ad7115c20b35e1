#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>

#include "ca/ca_client.h"
#include "ca/certificate_cache.h"
#include "ca/svid_client.h"
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
// with xds the delta-ADS stream to istiod and the mesh it describes; this process's
// certificate from istiod's CA (identity.provider: istio_ca) or from a SPIFFE agent's
// Workload API (spiffe_workload_api); each published as part of every snapshot. The
// workers only ever see the snapshots; nothing here waits on them, nor they on it.
class ControlPlane {
 public:
  // Throws tls::TlsSetupError when xds.root_ca cannot be used. Made with xds or a
  // certificate provider (ControlPlane::needed).
  static bool needed(const config::Config& config) { return config.xds || !config.identity.files(); }
  ControlPlane(net::EventLoop& loop, const config::Config& config, tunnel::SnapshotPublisher& snapshots);

  void start();
  // Any thread: every subscribed type has been ACKed once (with xds) and a certificate
  // from the provider is installed (readiness).
  bool ready() const { return (!ads_ || ads_->synced()) && has_certificate(); }
  bool has_certificate() const {
    return (!ca_ || ca_->has_certificate()) && (!svids_ || svids_->has_certificate());
  }
  bool has_xds() const { return ads_.has_value(); }
  // Called once, on the main loop, when the first certificate is in force.
  void on_first_certificate(std::function<void()> f) { first_certificate_ = std::move(f); }
  // Any thread: the stream's state (/config_dump's "xds_status", with xds) and the
  // certificate's ("certificates", null with files).
  nlohmann::json status() const;
  nlohmann::json certificates() const;
  void collect(metrics::Families& out) const;
  // With identity.provider: istio_ca (else null): a cache of certificates asked for on
  // workloads' behalf on this thread's channel (a node proxy's pods), `issued` told of each.
  std::unique_ptr<ca::CertificateCache> workload_certificates(ca::CertificateCache::Issued issued);

 private:
  // The istiod connection's own H2 counters: not among the workers' (they count tunnels).
  metrics::WorkerMetrics metrics_;
  worker::BufferBudget budget_{0};
  worker::BufferGate buffers_;
  worker::Context context_;
  // With xds: istiod's TLS (xds.root_ca, xds.istiod_san), for the xDS stream and the CA
  // alike; the mesh the stream describes.
  std::shared_ptr<const tls::TlsContext> istiod_tls_;
  std::optional<xds::MeshUpdater> mesh_;
  std::optional<xds::AdsClient> ads_;
  std::function<void()> first_certificate_;
  // identity.provider: istio_ca: the CA's channel, what every request from this process
  // counts into, and every CaClient's options but the identity.
  std::optional<grpc::Channel> ca_channel_;
  ca::CaStats ca_stats_;
  ca::CaClient::Options ca_options_;
  std::unique_ptr<ca::CaClient> ca_;  // this process's own certificate (its client and gateway roles)
  // identity.provider: spiffe_workload_api: the agent's channel and stream.
  std::optional<grpc::Channel> agent_channel_;
  std::unique_ptr<ca::SvidClient> svids_;
};

}  // namespace hbone::daemon
