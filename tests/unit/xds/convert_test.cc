// Istio's resources into hbone's model: what is read, what defaults apply, what is refused
// (and so NACKed) and with which reason.

#include "xds/convert.h"

#include <gtest/gtest.h>

#include <string>

namespace hbone::xds {
namespace {

std::string bytes(std::initializer_list<int> octets) {
  std::string out;
  for (int o : octets) out.push_back(static_cast<char>(o));
  return out;
}

istio::workload::Address pod() {
  istio::workload::Address a;
  auto* w = a.mutable_workload();
  w->set_uid("Kubernetes//Pod/ns1/pod-1");
  w->set_name("pod-1");
  w->set_namespace_("ns1");
  w->add_addresses(bytes({198, 18, 0, 7}));
  w->set_tunnel_protocol(istio::workload::HBONE);
  (*w->mutable_services())["ns1/svc.ns1.svc.cluster.local"].add_ports()->set_service_port(80);
  return a;
}

std::string refusal(const istio::workload::Address& a) {
  try {
    to_mesh(a);
  } catch (const ResourceError& e) {
    return e.what();
  }
  return "";
}

TEST(Convert, AWorkloadTakesItsDefaults) {
  auto w = std::get<mesh::Workload>(to_mesh(pod()));
  EXPECT_EQ(w.uid, "Kubernetes//Pod/ns1/pod-1");
  EXPECT_EQ(w.addresses, std::vector<std::string>{"198.18.0.7"});
  EXPECT_EQ(w.protocol, mesh::TunnelProtocol::hbone);
  EXPECT_EQ(w.identity(), "spiffe://cluster.local/ns/ns1/sa/default");
  ASSERT_EQ(w.services.size(), 1u);
  EXPECT_EQ(w.services.begin()->second, (std::vector<mesh::Port>{{80, 0}}));
  EXPECT_TRUE(w.healthy);
  EXPECT_FALSE(w.waypoint);
}

TEST(Convert, GatewaysAreAddressesOrServices) {
  auto a = pod();
  auto* wp = a.mutable_workload()->mutable_waypoint();
  wp->mutable_hostname()->set_namespace_("ns1");
  wp->mutable_hostname()->set_hostname("waypoint.ns1.svc.cluster.local");
  auto* gw = a.mutable_workload()->mutable_network_gateway();
  gw->mutable_address()->set_network("west");
  gw->mutable_address()->set_address(std::string(15, '\0') + '\1');
  gw->set_hbone_mtls_port(15009);
  auto w = std::get<mesh::Workload>(to_mesh(a));
  EXPECT_EQ(w.waypoint->service, "ns1/waypoint.ns1.svc.cluster.local");
  EXPECT_EQ(w.waypoint->hbone_port, 15008);
  EXPECT_EQ(w.network_gateway->address, (mesh::NetworkAddress{"west", "::1"}));
  EXPECT_EQ(w.network_gateway->hbone_port, 15009);
}

TEST(Convert, WhatCannotBeUsedIsRefusedWithItsReason) {
  auto a = pod();
  a.mutable_workload()->set_addresses(0, bytes({1, 2, 3}));
  EXPECT_EQ(refusal(a), "workload address: an address of 3 bytes (4 or 16 expected)");
  a = pod();
  a.mutable_workload()->clear_uid();
  EXPECT_EQ(refusal(a), "workload without uid");
  a = pod();
  (*a.mutable_workload()->mutable_services())["ns1/svc.ns1.svc.cluster.local"].mutable_ports(0)->set_target_port(70000);
  EXPECT_EQ(refusal(a), "target port 70000 is not a port");
  a = pod();
  (*a.mutable_workload()->mutable_services())["no-namespace"];
  EXPECT_EQ(refusal(a), "service \"no-namespace\" is not namespace/hostname");
  a = pod();
  a.mutable_workload()->mutable_waypoint();
  EXPECT_EQ(refusal(a), "waypoint names neither an address nor a hostname");
  EXPECT_EQ(refusal(istio::workload::Address()), "an address that is neither a workload nor a service");
}

TEST(Convert, AServiceIsKeyedByNamespaceAndHostname) {
  istio::workload::Address a;
  auto* s = a.mutable_service();
  s->set_name("svc");
  s->set_namespace_("ns1");
  s->set_hostname("svc.ns1.svc.cluster.local");
  auto* vip = s->add_addresses();
  vip->set_address(bytes({198, 18, 100, 1}));
  auto* port = s->add_ports();
  port->set_service_port(80);
  port->set_target_port(8080);
  auto service = std::get<mesh::Service>(to_mesh(a));
  EXPECT_EQ(service.key(), "ns1/svc.ns1.svc.cluster.local");
  EXPECT_EQ(service.vips, (std::vector<mesh::NetworkAddress>{{"", "198.18.100.1"}}));
  EXPECT_EQ(service.ports, (std::vector<mesh::Port>{{80, 8080}}));
  s->clear_hostname();
  EXPECT_EQ(refusal(a), "service without namespace or hostname");
}

TEST(Convert, AnAuthorizationKeepsItsStructure) {
  istio::security::Authorization a;
  a.set_name("allow-b");
  a.set_namespace_("ns1");
  a.set_scope(istio::security::WORKLOAD_SELECTOR);
  a.set_action(istio::security::ALLOW);
  auto* match = a.add_rules()->add_clauses()->add_matches();
  match->add_principals()->set_suffix("/sa/b");
  match->add_not_namespaces()->set_exact("evil");
  auto* sa = match->add_service_accounts();
  sa->set_namespace_("ns1");
  sa->set_serviceaccount("b");
  auto* ip = match->add_source_ips();
  ip->set_address(bytes({198, 18, 0, 0}));
  ip->set_length(15);
  match->add_destination_ports(8080);
  policy::rbac::Policy p = to_policy(a);
  EXPECT_EQ(p.key, "ns1/allow-b");
  EXPECT_EQ(p.scope, policy::rbac::Scope::workload_selector);
  ASSERT_EQ(p.rules.size(), 1u);
  const auto& m = p.rules[0].clauses[0].matches[0];
  EXPECT_EQ(m.principals[0].kind, policy::rbac::StringMatch::Kind::suffix);
  EXPECT_EQ(m.not_namespaces[0].value, "evil");
  EXPECT_EQ(m.service_accounts[0].service_account, "b");
  EXPECT_EQ(m.source_ips[0].to_string(), "198.18.0.0/15");
  EXPECT_EQ(m.destination_ports, std::vector<uint16_t>{8080});

  ip->set_length(33);
  EXPECT_THROW(to_policy(a), ResourceError);
  ip->set_length(15);
  match->add_principals();  // a match of no kind
  EXPECT_THROW(to_policy(a), ResourceError);
}

}  // namespace
}  // namespace hbone::xds
