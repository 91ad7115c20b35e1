// hbone's .proto files (proto/) against the wire facts they were written from: field
// numbers and types as bytes worked out by hand from Envoy's and Istio's published
// definitions (each file names its source), and the names that travel on the wire (gRPC
// method paths, Any type URLs). A field number copied wrong fails here, not against istiod.

#include <gtest/gtest.h>

#include <string>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "istio/security/authorization.pb.h"
#include "istio/v1/auth/ca.pb.h"
#include "istio/workload/workload.pb.h"
#include "istio/workload/zds/zds.pb.h"

namespace hbone {
namespace {

using std::string_literals::operator""s;

std::string type_url(const google::protobuf::Descriptor* message) {
  return "type.googleapis.com/" + message->full_name();
}

std::string method_path(const google::protobuf::FileDescriptor* file, const std::string& service,
                        const std::string& method) {
  const auto* s = file->FindServiceByName(service);
  if (!s || !s->FindMethodByName(method)) return "";
  return "/" + s->full_name() + "/" + method;
}

TEST(ProtoWire, NamesOnTheWire) {
  EXPECT_EQ(method_path(envoy::service::discovery::v3::DeltaDiscoveryRequest::descriptor()->file(),
                        "AggregatedDiscoveryService", "DeltaAggregatedResources"),
            "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources");
  EXPECT_EQ(method_path(istio::v1::auth::IstioCertificateRequest::descriptor()->file(), "IstioCertificateService",
                        "CreateCertificate"),
            "/istio.v1.auth.IstioCertificateService/CreateCertificate");
  EXPECT_EQ(type_url(istio::workload::Address::descriptor()), "type.googleapis.com/istio.workload.Address");
  EXPECT_EQ(type_url(istio::security::Authorization::descriptor()),
            "type.googleapis.com/istio.security.Authorization");
}

TEST(ProtoWire, ANackNamesItsNonceAndWhy) {
  envoy::service::discovery::v3::DeltaDiscoveryRequest nack;
  nack.set_type_url("t");
  nack.set_response_nonce("n");
  nack.mutable_error_detail()->set_code(3);
  nack.mutable_error_detail()->set_message("m");
  nack.mutable_node()->set_id("i");
  (*nack.mutable_initial_resource_versions())["k"] = "v";
  // node 1, type_url 2, initial_resource_versions 5 (a map entry: key 1, value 2),
  // response_nonce 6, error_detail 7 (code 1 varint, message 2).
  EXPECT_EQ(nack.SerializeAsString(),
            "\x0a\x03\x0a\x01i"s "\x12\x01t"s "\x2a\x06\x0a\x01k\x12\x01v"s "\x32\x01n"s "\x3a\x05\x08\x03\x12\x01m"s);
}

TEST(ProtoWire, AResponseIsReadAsPublished) {
  // system_version_info 1, resources 2 (Resource: version 1, resource 2 (Any: type_url 1,
  // value 2), name 3), type_url 4, nonce 5, removed_resources 6.
  std::string any = "\x0a\x01u"s "\x12\x01w"s;
  std::string resource = "\x0a\x02v1"s "\x12"s + char(any.size()) + any + "\x1a\x02r1"s;
  std::string wire = "\x0a\x01s"s "\x12"s + char(resource.size()) + resource + "\x22\x01t"s "\x2a\x01n"s "\x32\x04gone"s;
  envoy::service::discovery::v3::DeltaDiscoveryResponse response;
  ASSERT_TRUE(response.ParseFromString(wire));
  EXPECT_EQ(response.system_version_info(), "s");
  ASSERT_EQ(response.resources_size(), 1);
  EXPECT_EQ(response.resources(0).version(), "v1");
  EXPECT_EQ(response.resources(0).name(), "r1");
  EXPECT_EQ(response.resources(0).resource().type_url(), "u");
  EXPECT_EQ(response.resources(0).resource().value(), "w");
  EXPECT_EQ(response.type_url(), "t");
  EXPECT_EQ(response.nonce(), "n");
  ASSERT_EQ(response.removed_resources_size(), 1);
  EXPECT_EQ(response.removed_resources(0), "gone");
}

TEST(ProtoWire, AWorkloadIsReadAsPublished) {
  // uid 20 ((20 << 3) | 2 = 0xa2 0x01), addresses 3, network 4, tunnel_protocol 5 (HBONE = 1),
  // trust_domain 6, service_account 7, services 22 (0xb2 0x01: map entry key 1, PortList 2 of
  // Port 1: service_port 1, target_port 2), status 17 (0x88 0x01: UNHEALTHY = 1).
  std::string port = "\x08\x50\x10\x90\x3f"s;  // 80 -> 8080
  std::string ports = "\x0a"s + char(port.size()) + port;
  std::string entry = "\x0a\x0b" "ns/svc.test"s "\x12"s + char(ports.size()) + ports;
  std::string wire = "\xa2\x01\x03" "uid"s "\x1a\x04\xc6\x12\x00\x02"s "\x22\x03" "net"s "\x28\x01"s
                     "\x32\x02td"s "\x3a\x02sa"s "\xb2\x01"s + char(entry.size()) + entry + "\x88\x01\x01"s;
  istio::workload::Address address;
  std::string wrapped = "\x0a"s + char(wire.size()) + wire;  // Address.workload = 1
  ASSERT_TRUE(address.ParseFromString(wrapped));
  ASSERT_TRUE(address.has_workload());
  const auto& w = address.workload();
  EXPECT_EQ(w.uid(), "uid");
  ASSERT_EQ(w.addresses_size(), 1);
  EXPECT_EQ(w.addresses(0), "\xc6\x12\x00\x02"s);  // 198.18.0.2
  EXPECT_EQ(w.network(), "net");
  EXPECT_EQ(w.tunnel_protocol(), istio::workload::HBONE);
  EXPECT_EQ(w.trust_domain(), "td");
  EXPECT_EQ(w.service_account(), "sa");
  ASSERT_EQ(w.services().count("ns/svc.test"), 1u);
  EXPECT_EQ(w.services().at("ns/svc.test").ports(0).service_port(), 80u);
  EXPECT_EQ(w.services().at("ns/svc.test").ports(0).target_port(), 8080u);
  EXPECT_EQ(w.status(), istio::workload::UNHEALTHY);
}

TEST(ProtoWire, AnAuthorizationIsReadAsPublished) {
  // name 1, namespace 2, scope 3 (WORKLOAD_SELECTOR = 2), action 4 (DENY = 1), rules 5 of
  // Rule (clauses 1) of Clause (matches 2) of Match (principals 3: StringMatch prefix 2,
  // destination_ports 9, packed).
  std::string match = "\x1a\x04\x12\x02sp"s "\x4a\x02\x50\x51"s;
  std::string clause = "\x12"s + char(match.size()) + match;
  std::string rule = "\x0a"s + char(clause.size()) + clause;
  std::string wire = "\x0a\x01p"s "\x12\x02ns"s "\x18\x02"s "\x20\x01"s "\x2a"s + char(rule.size()) + rule;
  istio::security::Authorization policy;
  ASSERT_TRUE(policy.ParseFromString(wire));
  EXPECT_EQ(policy.name(), "p");
  EXPECT_EQ(policy.namespace_(), "ns");
  EXPECT_EQ(policy.scope(), istio::security::WORKLOAD_SELECTOR);
  EXPECT_EQ(policy.action(), istio::security::DENY);
  const auto& m = policy.rules(0).clauses(0).matches(0);
  EXPECT_EQ(m.principals(0).prefix(), "sp");
  ASSERT_EQ(m.destination_ports_size(), 2);
  EXPECT_EQ(m.destination_ports(1), 81u);
}

TEST(ProtoWire, ACertificateRequestAndItsChain) {
  istio::v1::auth::IstioCertificateRequest request;
  request.set_csr("c");
  request.set_validity_duration(86400);
  // csr 1, validity_duration 3 (varint 86400 = 0x80 0xa3 0x05).
  EXPECT_EQ(request.SerializeAsString(), "\x0a\x01" "c" "\x18\x80\xa3\x05"s);
  istio::v1::auth::IstioCertificateResponse response;
  ASSERT_TRUE(response.ParseFromString("\x0a\x04leaf\x0a\x04root"s));
  ASSERT_EQ(response.cert_chain_size(), 2);
  EXPECT_EQ(response.cert_chain(1), "root");
}

TEST(ProtoWire, ZdsAsTheCniAgentSpeaksIt) {
  namespace zds = istio::workload::zds;
  // ZdsHello: version 1 (V1 = 1). WorkloadResponse: ack 1 (Ack: error 1).
  zds::ZdsHello hello;
  hello.set_version(zds::V1);
  EXPECT_EQ(hello.SerializeAsString(), "\x08\x01"s);
  zds::WorkloadResponse nack;
  nack.mutable_ack()->set_error("e");
  EXPECT_EQ(nack.SerializeAsString(), "\x0a\x03\x0a\x01" "e"s);
  // WorkloadRequest: add 1 (AddWorkload: uid 1, workload_info 2 (name 1, namespace 2,
  // service_account 3)), del 2 (DelWorkload: uid 2), snapshot_sent 3, keep 5 (uid 1).
  zds::WorkloadRequest add;
  ASSERT_TRUE(add.ParseFromString("\x0a\x0e\x0a\x01u\x12\x09\x0a\x01n\x12\x01s\x1a\x01" "a"s));
  EXPECT_EQ(add.add().uid(), "u");
  EXPECT_EQ(add.add().workload_info().name(), "n");
  EXPECT_EQ(add.add().workload_info().namespace_(), "s");
  EXPECT_EQ(add.add().workload_info().service_account(), "a");
  zds::WorkloadRequest del, snapshot, keep;
  ASSERT_TRUE(del.ParseFromString("\x12\x03\x12\x01u"s));
  EXPECT_EQ(del.del().uid(), "u");
  ASSERT_TRUE(snapshot.ParseFromString("\x1a\x00"s));
  EXPECT_TRUE(snapshot.has_snapshot_sent());
  ASSERT_TRUE(keep.ParseFromString("\x2a\x03\x0a\x01u"s));
  EXPECT_EQ(keep.keep().uid(), "u");
}

}  // namespace
}  // namespace hbone
