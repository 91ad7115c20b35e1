#include "mesh/mesh_state.h"

#include <gtest/gtest.h>

#include <memory>

namespace hbone::mesh {
namespace {

std::shared_ptr<const Workload> pod(const std::string& uid, const std::string& ip, const std::string& network = "",
                                    const std::string& service = "") {
  Workload w;
  w.uid = uid;
  w.addresses = {ip};
  w.network = network;
  if (!service.empty()) w.services[service] = {{80, 8080}};
  return std::make_shared<const Workload>(std::move(w));
}

TEST(MeshState, FindsWorkloadsAndServicesByAddressOnTheirNetwork) {
  Service svc;
  svc.namespace_name = "ns";
  svc.hostname = "svc.ns.svc.cluster.local";
  svc.vips = {{"", "198.18.100.1"}};
  MeshState state({{"a", pod("a", "198.18.0.1", "", svc.key())},
                   {"b", pod("b", "198.18.0.1", "west", svc.key())},
                   {"c", pod("c", "198.18.0.3")}},
                  {{svc.key(), std::make_shared<const Service>(svc)}}, {});
  EXPECT_EQ(state.workload_at({"", "198.18.0.1"})->uid, "a");
  EXPECT_EQ(state.workload_at({"west", "198.18.0.1"})->uid, "b");
  EXPECT_EQ(state.workload_at({"east", "198.18.0.1"}), nullptr);
  EXPECT_EQ(state.service_at({"", "198.18.100.1"})->hostname, "svc.ns.svc.cluster.local");
  EXPECT_EQ(state.service_at({"", "198.18.0.1"}), nullptr);
  const auto& endpoints = state.endpoints(svc.key());
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(endpoints[0]->uid, "a");
  EXPECT_EQ(endpoints[1]->uid, "b");
  EXPECT_TRUE(state.endpoints("ns/other").empty());
}

}  // namespace
}  // namespace hbone::mesh
