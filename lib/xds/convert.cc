#include "xds/convert.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace hbone::xds {
namespace {

namespace pb = istio::workload;
namespace rbac = policy::rbac;

std::string read_ip(const std::string& bytes, const char* what) {
  char text[INET6_ADDRSTRLEN];
  if (bytes.size() == 4) return inet_ntop(AF_INET, bytes.data(), text, sizeof(text));
  if (bytes.size() == 16) return inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
  throw ResourceError(std::string(what) + ": an address of " + std::to_string(bytes.size()) +
                      " bytes (4 or 16 expected)");
}

uint16_t read_port(uint32_t value, const char* what) {
  if (value > 65535) throw ResourceError(std::string(what) + " " + std::to_string(value) + " is not a port");
  return static_cast<uint16_t>(value);
}

std::vector<mesh::Port> read_ports(const google::protobuf::RepeatedPtrField<pb::Port>& in) {
  std::vector<mesh::Port> out;
  for (const pb::Port& p : in) {
    mesh::Port mapped{read_port(p.service_port(), "service port"), read_port(p.target_port(), "target port")};
    if (mapped.service_port == 0) throw ResourceError("service port 0");
    out.push_back(mapped);
  }
  return out;
}

mesh::NetworkAddress read_network_address(const pb::NetworkAddress& a, const char* what) {
  return {a.network(), read_ip(a.address(), what)};
}

std::optional<mesh::GatewayAddress> read_gateway(bool present, const pb::GatewayAddress& g, const char* what) {
  if (!present) return std::nullopt;
  mesh::GatewayAddress out;
  if (g.has_address()) {
    out.address = read_network_address(g.address(), what);
  } else if (g.has_hostname() && !g.hostname().hostname().empty()) {
    out.service = g.hostname().namespace_() + "/" + g.hostname().hostname();
  } else {
    throw ResourceError(std::string(what) + " names neither an address nor a hostname");
  }
  // istiod always sets it; 0 would be no port at all.
  if (g.hbone_mtls_port() != 0) out.hbone_port = read_port(g.hbone_mtls_port(), what);
  return out;
}

mesh::Workload read_workload(const pb::Workload& w) {
  if (w.uid().empty()) throw ResourceError("workload without uid");
  mesh::Workload out;
  out.uid = w.uid();
  out.name = w.name();
  out.namespace_name = w.namespace_();
  for (const std::string& bytes : w.addresses()) out.addresses.push_back(read_ip(bytes, "workload address"));
  out.hostname = w.hostname();
  out.network = w.network();
  switch (w.tunnel_protocol()) {
    case pb::NONE: out.protocol = mesh::TunnelProtocol::none; break;
    case pb::HBONE: out.protocol = mesh::TunnelProtocol::hbone; break;
    case pb::LEGACY_ISTIO_MTLS: out.protocol = mesh::TunnelProtocol::legacy_istio_mtls; break;
    default: throw ResourceError("unknown tunnel protocol " + std::to_string(w.tunnel_protocol()));
  }
  if (!w.trust_domain().empty()) out.trust_domain = w.trust_domain();
  if (!w.service_account().empty()) out.service_account = w.service_account();
  out.waypoint = read_gateway(w.has_waypoint(), w.waypoint(), "waypoint");
  out.network_gateway = read_gateway(w.has_network_gateway(), w.network_gateway(), "network gateway");
  out.node = w.node();
  out.canonical_name = w.canonical_name();
  out.workload_name = w.workload_name();
  out.cluster_id = w.cluster_id();
  out.healthy = w.status() == pb::HEALTHY;
  for (const auto& [key, list] : w.services()) {
    if (key.find('/') == std::string::npos) throw ResourceError("service \"" + key + "\" is not namespace/hostname");
    out.services.emplace(key, read_ports(list.ports()));
  }
  out.authorization_policies.assign(w.authorization_policies().begin(), w.authorization_policies().end());
  return out;
}

mesh::Service read_service(const pb::Service& s) {
  if (s.namespace_().empty() || s.hostname().empty()) throw ResourceError("service without namespace or hostname");
  mesh::Service out;
  out.name = s.name();
  out.namespace_name = s.namespace_();
  out.hostname = s.hostname();
  for (const pb::NetworkAddress& vip : s.addresses()) out.vips.push_back(read_network_address(vip, "service VIP"));
  out.ports = read_ports(s.ports());
  out.subject_alt_names.assign(s.subject_alt_names().begin(), s.subject_alt_names().end());
  out.waypoint = read_gateway(s.has_waypoint(), s.waypoint(), "waypoint");
  return out;
}

std::vector<rbac::StringMatch> read_strings(const google::protobuf::RepeatedPtrField<istio::security::StringMatch>& in) {
  std::vector<rbac::StringMatch> out;
  for (const auto& m : in) {
    using In = istio::security::StringMatch;
    switch (m.match_type_case()) {
      case In::kExact: out.push_back({rbac::StringMatch::Kind::exact, m.exact()}); break;
      case In::kPrefix: out.push_back({rbac::StringMatch::Kind::prefix, m.prefix()}); break;
      case In::kSuffix: out.push_back({rbac::StringMatch::Kind::suffix, m.suffix()}); break;
      case In::kPresence: out.push_back({rbac::StringMatch::Kind::presence, ""}); break;
      case In::MATCH_TYPE_NOT_SET: throw ResourceError("a string match of no kind");
    }
  }
  return out;
}

std::vector<rbac::ServiceAccountMatch> read_accounts(
    const google::protobuf::RepeatedPtrField<istio::security::ServiceAccountMatch>& in) {
  std::vector<rbac::ServiceAccountMatch> out;
  for (const auto& m : in) out.push_back({m.namespace_(), m.serviceaccount()});
  return out;
}

std::vector<address::Cidr> read_cidrs(const google::protobuf::RepeatedPtrField<istio::security::Address>& in) {
  std::vector<address::Cidr> out;
  for (const auto& a : in) {
    address::Cidr cidr;
    std::string text = read_ip(a.address(), "policy address");  // checks the size
    cidr.family = a.address().size() == 4 ? AF_INET : AF_INET6;
    unsigned bits = cidr.family == AF_INET ? 32 : 128;
    if (a.length() > bits) {
      throw ResourceError("policy address " + text + "/" + std::to_string(a.length()) + ": prefix longer than the address");
    }
    std::memcpy(cidr.address.data(), a.address().data(), a.address().size());
    cidr.prefix = a.length();
    out.push_back(cidr);
  }
  return out;
}

std::vector<uint16_t> read_port_list(const google::protobuf::RepeatedField<uint32_t>& in) {
  std::vector<uint16_t> out;
  for (uint32_t p : in) out.push_back(read_port(p, "policy port"));
  return out;
}

}  // namespace

std::variant<mesh::Workload, mesh::Service> to_mesh(const istio::workload::Address& address) {
  switch (address.type_case()) {
    case pb::Address::kWorkload: return read_workload(address.workload());
    case pb::Address::kService: return read_service(address.service());
    case pb::Address::TYPE_NOT_SET: break;
  }
  throw ResourceError("an address that is neither a workload nor a service");
}

rbac::Policy to_policy(const istio::security::Authorization& a) {
  if (a.name().empty()) throw ResourceError("authorization without name");
  rbac::Policy out;
  out.name = a.name();
  out.namespace_name = a.namespace_();
  out.key = out.namespace_name + "/" + out.name;
  switch (a.scope()) {
    case istio::security::GLOBAL: out.scope = rbac::Scope::global; break;
    case istio::security::NAMESPACE: out.scope = rbac::Scope::namespace_wide; break;
    case istio::security::WORKLOAD_SELECTOR: out.scope = rbac::Scope::workload_selector; break;
    default: throw ResourceError("unknown scope " + std::to_string(a.scope()));
  }
  switch (a.action()) {
    case istio::security::ALLOW: out.action = rbac::Action::allow; break;
    case istio::security::DENY: out.action = rbac::Action::deny; break;
    default: throw ResourceError("unknown action " + std::to_string(a.action()));
  }
  out.dry_run = a.dry_run();
  for (const auto& rule : a.rules()) {
    rbac::Rule& r = out.rules.emplace_back();
    for (const auto& clause : rule.clauses()) {
      rbac::Clause& c = r.clauses.emplace_back();
      for (const auto& m : clause.matches()) {
        c.matches.push_back({.namespaces = read_strings(m.namespaces()),
                             .not_namespaces = read_strings(m.not_namespaces()),
                             .service_accounts = read_accounts(m.service_accounts()),
                             .not_service_accounts = read_accounts(m.not_service_accounts()),
                             .principals = read_strings(m.principals()),
                             .not_principals = read_strings(m.not_principals()),
                             .source_ips = read_cidrs(m.source_ips()),
                             .not_source_ips = read_cidrs(m.not_source_ips()),
                             .destination_ips = read_cidrs(m.destination_ips()),
                             .not_destination_ips = read_cidrs(m.not_destination_ips()),
                             .destination_ports = read_port_list(m.destination_ports()),
                             .not_destination_ports = read_port_list(m.not_destination_ports())});
      }
    }
  }
  return out;
}

}  // namespace hbone::xds
