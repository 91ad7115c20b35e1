#include "daemon/control_plane.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace hbone::daemon {
namespace {

xds::AdsClient::Options ads_options(const config::XdsConfig& xds) {
  xds::NodeIdentity node = xds::NodeIdentity::from_environment();
  node.cluster_id = xds.cluster_id;
  return {.channel = {.target = xds.address,
                      .tls = std::make_shared<const tls::TlsContext>(tls::ServerAuth{xds.root_ca, xds.istiod_san})},
          .token_file = xds.token_file,
          .cluster_id = xds.cluster_id,
          .node = std::move(node)};
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
      ads_(context_, ads_options(*config.xds), mesh_.subscriptions()) {}

nlohmann::json ControlPlane::status() const { return ads_.status(); }

}  // namespace hbone::daemon
