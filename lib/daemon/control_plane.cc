#include "daemon/control_plane.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "util/file.h"

namespace hbone::daemon {
namespace {

xds::AdsClient::Options ads_options(const config::XdsConfig& xds, std::shared_ptr<const tls::TlsContext> tls) {
  xds::NodeIdentity node = xds::NodeIdentity::from_environment();
  node.cluster_id = xds.cluster_id;
  return {.channel = {.target = xds.address, .tls = std::move(tls)},
          .token_file = xds.token_file,
          .cluster_id = xds.cluster_id,
          .node = std::move(node)};
}

}  // namespace

ControlPlane::ControlPlane(net::EventLoop& loop, const config::Config& config, tunnel::SnapshotPublisher& snapshots)
    : buffers_(loop, budget_), context_{0, loop, config, metrics_, buffers_} {
  auto install = [this, &snapshots](const std::shared_ptr<const tls::IssuedIdentity>& issued) {
    snapshots.publish([&](tunnel::SnapshotInputs& inputs) { inputs.issued = issued; });
    if (auto first = std::exchange(first_certificate_, nullptr)) first();
  };
  if (config.identity.workload_api()) {
    std::string why;
    // Member by member: GCC 12 at -O3 takes the aggregate's skipped `target` for maybe
    // uninitialized in a designated initializer's unwinding path.
    grpc::ChannelOptions agent;
    agent.unix_socket = config::workload_api_socket(config.identity, why);
    agent_channel_.emplace(context_, std::move(agent));
    svids_ = std::make_unique<ca::SvidClient>(loop, *agent_channel_, ca::SvidClient::Options{}, install);
  }
  if (!config.xds) return;
  const config::XdsConfig& xds = *config.xds;
  istiod_tls_ = std::make_shared<const tls::TlsContext>(tls::ServerAuth{xds.root_ca, xds.istiod_san});
  mesh_.emplace([&snapshots](const std::shared_ptr<const mesh::MeshState>& state) {
    snapshots.publish([&](tunnel::SnapshotInputs& inputs) { inputs.mesh = state; });
    spdlog::debug("xds: mesh in force: {} workloads, {} services, {} policies", state->workloads().size(),
                  state->services().size(), state->policies().size());
  });
  ads_.emplace(context_, ads_options(xds, istiod_tls_), mesh_->subscriptions());
  if (!config.identity.istio_ca()) return;
  const config::IdentityConfig& identity = config.identity;
  ca_channel_.emplace(context_, grpc::ChannelOptions{.target = identity.ca_address.value_or(xds.address), .tls = istiod_tls_});
  ca_options_.token_file = xds.token_file;
  ca_options_.cluster_id = xds.cluster_id;
  ca_options_.ttl = std::chrono::duration_cast<std::chrono::seconds>(identity.cert_ttl);
  ca_options_.extra_roots = util::read_file(xds.root_ca).value_or("");
  // A node proxy alone speaks for its pods only: it needs no certificate of its own.
  if (!config.gateway && !config.client) return;
  ca::CaClient::Options own = ca_options_;
  own.identity = "spiffe://" + config.tls.trust_domain + "/ns/" + identity.namespace_name + "/sa/" +
                 identity.service_account;
  ca_ = std::make_unique<ca::CaClient>(loop, *ca_channel_, ca_stats_, std::move(own), install);
}

void ControlPlane::start() {
  if (ads_) ads_->start();
  if (ca_) ca_->start();
  if (svids_) svids_->start();
}

std::unique_ptr<ca::CertificateCache> ControlPlane::workload_certificates(ca::CertificateCache::Issued issued) {
  if (!ca_channel_) return nullptr;
  return std::make_unique<ca::CertificateCache>(context_.loop, *ca_channel_, ca_stats_, ca_options_, std::move(issued));
}

nlohmann::json ControlPlane::status() const { return ads_ ? ads_->status() : nlohmann::json(); }

nlohmann::json ControlPlane::certificates() const {
  if (svids_) return svids_->status();
  return ca_ ? ca_->status() : nlohmann::json();
}

void ControlPlane::collect(metrics::Families& out) const {
  if (ads_) ads_->collect(out);
  if (ca_channel_) ca_stats_.collect(out);
}

}  // namespace hbone::daemon
