#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "mesh/mesh_state.h"
#include "xds/ads_client.h"

namespace hbone::xds {

// The mesh as istiod pushes it: each Address or Authorization response applied to the last
// state makes a new MeshState, which `publish` puts in force. A resource that cannot be
// read or converted is rejected by name and the rest of the response applied (ztunnel's
// rule: one bad workload does not hold up the cluster), its previous version (if any)
// staying in force; when `publish` throws, nothing of the response is.
class MeshUpdater {
 public:
  // Puts `state` in force, or throws having changed nothing.
  using Publish = std::function<void(const std::shared_ptr<const mesh::MeshState>& state)>;
  explicit MeshUpdater(Publish publish);

  // The Address and Authorization subscriptions, for the AdsClient.
  std::vector<AdsClient::Subscription> subscriptions();
  const std::shared_ptr<const mesh::MeshState>& current() const { return current_; }

 private:
  std::vector<Rejected> apply_addresses(const AdsClient::DeltaResponse& response);
  std::vector<Rejected> apply_authorizations(const AdsClient::DeltaResponse& response);
  void commit(mesh::MeshState::Workloads workloads, mesh::MeshState::Services services,
              mesh::MeshState::Policies policies);

  Publish publish_;
  std::shared_ptr<const mesh::MeshState> current_ = std::make_shared<const mesh::MeshState>();
};

}  // namespace hbone::xds
