#include "xds/mesh_updater.h"

#include "xds/convert.h"

namespace hbone::xds {
namespace {

// The resource inside `r` as a `Proto` of `type_url`; throws ResourceError.
template <typename Proto>
Proto unpack(const envoy::service::discovery::v3::Resource& r, const char* type_url) {
  if (!r.has_resource()) throw ResourceError("no resource, only its name");
  if (r.resource().type_url() != type_url) throw ResourceError("a " + r.resource().type_url() + " among " + type_url);
  Proto out;
  if (!r.resource().UnpackTo(&out)) throw ResourceError("cannot be decoded as " + std::string(type_url));
  return out;
}

}  // namespace

MeshUpdater::MeshUpdater(Publish publish) : publish_(std::move(publish)) {}

std::vector<AdsClient::Subscription> MeshUpdater::subscriptions() {
  return {{kAddressType, [this](const AdsClient::DeltaResponse& r) { return apply_addresses(r); }},
          {kAuthorizationType, [this](const AdsClient::DeltaResponse& r) { return apply_authorizations(r); }}};
}

std::vector<Rejected> MeshUpdater::apply_addresses(const AdsClient::DeltaResponse& response) {
  auto workloads = current_->workloads();
  auto services = current_->services();
  for (const std::string& name : response.removed_resources()) {
    workloads.erase(name);
    services.erase(name);
  }
  std::vector<Rejected> rejected;
  for (const auto& resource : response.resources()) {
    try {
      auto converted = to_mesh(unpack<istio::workload::Address>(resource, kAddressType));
      // Keyed by the resource name (a workload's uid, a service's namespace/hostname), as
      // removals name them; a name moves between kinds only by being removed and re-added.
      if (auto* w = std::get_if<mesh::Workload>(&converted)) {
        workloads[resource.name()] = std::make_shared<const mesh::Workload>(std::move(*w));
      } else {
        services[resource.name()] = std::make_shared<const mesh::Service>(std::get<mesh::Service>(std::move(converted)));
      }
    } catch (const ResourceError& e) {
      rejected.push_back({resource.name(), e.what()});
    }
  }
  commit(std::move(workloads), std::move(services), current_->policies());
  return rejected;
}

std::vector<Rejected> MeshUpdater::apply_authorizations(const AdsClient::DeltaResponse& response) {
  auto policies = current_->policies();
  for (const std::string& name : response.removed_resources()) policies.erase(name);
  std::vector<Rejected> rejected;
  for (const auto& resource : response.resources()) {
    try {
      policies[resource.name()] = std::make_shared<const policy::rbac::Policy>(
          to_policy(unpack<istio::security::Authorization>(resource, kAuthorizationType)));
    } catch (const ResourceError& e) {
      rejected.push_back({resource.name(), e.what()});
    }
  }
  commit(current_->workloads(), current_->services(), std::move(policies));
  return rejected;
}

void MeshUpdater::commit(mesh::MeshState::Workloads workloads, mesh::MeshState::Services services,
                         mesh::MeshState::Policies policies) {
  auto next = std::make_shared<const mesh::MeshState>(std::move(workloads), std::move(services), std::move(policies));
  publish_(next);  // throws: current_ stays
  current_ = std::move(next);
}

}  // namespace hbone::xds
