// libFuzzer: a delta-ADS response from istiod, as bytes off the wire, through what hbone
// does with it (xds::MeshUpdater: decode each resource, convert and check it, make the new
// mesh). Whatever it holds, nothing crashes; every resource is taken or rejected with a
// reason; what was taken is in force and findable by its address.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/mesh_updater.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hbone::xds::AdsClient;
  if (size == 0) return 0;
  AdsClient::DeltaResponse response;
  if (!response.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
  hbone::xds::MeshUpdater updater([](const std::shared_ptr<const hbone::mesh::MeshState>&) {});
  auto subscriptions = updater.subscriptions();
  // The first byte picks the type (istiod sends both on one stream).
  auto rejected = subscriptions[data[0] % subscriptions.size()].apply(response);
  for (const auto& r : rejected) {
    if (r.reason.empty()) std::abort();  // a NACK always says why
  }
  const auto& state = *updater.current();
  for (const auto& [uid, workload] : state.workloads()) {
    for (const std::string& ip : workload->addresses) {
      if (!state.workload_at({workload->network, ip})) std::abort();
    }
    for (const auto& [service, ports] : workload->services) {
      if (state.endpoints(service).empty()) std::abort();
    }
  }
  for (const auto& [key, service] : state.services()) {
    for (const auto& vip : service->vips) {
      if (!state.service_at(vip)) std::abort();
    }
  }
  return 0;
}
