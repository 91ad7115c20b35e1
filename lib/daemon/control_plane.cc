#include "daemon/control_plane.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

namespace hbone::daemon {
namespace {

// istiod's TLS, for the xDS stream and the CA alike.
grpc::ChannelOptions istiod(const config::XdsConfig& xds, const address::HostPort& address) {
  return {.target = address,
          .tls = std::make_shared<const tls::TlsContext>(tls::ServerAuth{xds.root_ca, xds.istiod_san})};
}

xds::AdsClient::Options ads_options(const config::XdsConfig& xds) {
  xds::NodeIdentity node = xds::NodeIdentity::from_environment();
  node.cluster_id = xds.cluster_id;
  return {.channel = istiod(xds, xds.address),
          .token_file = xds.token_file,
          .cluster_id = xds.cluster_id,
          .node = std::move(node)};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

ControlPlane::ControlPlane(net::EventLoop& loop, const config::Config& config, tunnel::SnapshotPublisher& snapshots)
    : buffers_(loop, budget_),
      context_{0, loop, config, metrics_, buffers_},
      mesh_([&snapshots](const std::shared_ptr<const mesh::MeshState>& state) {
        snapshots.publish([&](tunnel::SnapshotInputs& inputs) { inputs.mesh = state; });
        spdlog::debug("xds: mesh in force: {} workloads, {} services, {} policies", state->workloads().size(),
                     state->services().size(), state->policies().size());
      }),
      ads_(context_, ads_options(*config.xds), mesh_.subscriptions()) {
  if (!config.identity.istio_ca) return;
  const config::XdsConfig& xds = *config.xds;
  const config::IdentityConfig& identity = config.identity;
  ca_ = std::make_unique<ca::CaClient>(
      context_,
      ca::CaClient::Options{
          .channel = istiod(xds, identity.ca_address.value_or(xds.address)),
          .token_file = xds.token_file,
          .cluster_id = xds.cluster_id,
          .identity = "spiffe://" + config.tls.trust_domain + "/ns/" + identity.namespace_name + "/sa/" +
                      identity.service_account,
          .ttl = std::chrono::duration_cast<std::chrono::seconds>(identity.cert_ttl),
          .extra_roots = read_file(xds.root_ca)},
      [this, &snapshots](const std::shared_ptr<const tls::IssuedIdentity>& issued) {
        snapshots.publish([&](tunnel::SnapshotInputs& inputs) { inputs.issued = issued; });
        if (auto first = std::exchange(first_certificate_, nullptr)) first();
      });
}

void ControlPlane::start() {
  ads_.start();
  if (ca_) ca_->start();
}

nlohmann::json ControlPlane::status() const { return ads_.status(); }

nlohmann::json ControlPlane::certificates() const { return ca_ ? ca_->status() : nlohmann::json(); }

void ControlPlane::collect(metrics::Families& out) const {
  ads_.collect(out);
  if (ca_) ca_->collect(out);
}

}  // namespace hbone::daemon
