#include "config/config_checks.h"

#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "config/units.h"
#include "identity/spiffe_id.h"

namespace hbone::config {
namespace {

bool file_readable(const std::string& path) { return std::ifstream(path).good(); }

// Two listen addresses that would take the same connections: the same port on the same
// address, or on a wildcard of a family that covers the other ([::] takes IPv4 too).
bool overlapping(const address::HostPort& a, const address::HostPort& b) {
  if (a.port == 0 || a.port != b.port) return false;  // port 0: the kernel picks distinct ports
  auto wildcard = [](const address::HostPort& h) { return h.host == "0.0.0.0" || h.host == "::"; };
  if (a.host == b.host || a.host == "::" || b.host == "::") return true;
  return (wildcard(a) || wildcard(b)) && a.is_ipv6() == b.is_ipv6();
}

// hbone's listeners must not share an address: SO_REUSEPORT would let two of its own
// sockets bind it and split its connections between them silently; for admin ones the start
// would fail. Reported at the later of the two in admin, gateway, client order.
void check_listeners(const YAML::Node& root, const Config& config, LiveRead live, Diagnostics& diag) {
  std::vector<std::tuple<std::string, address::HostPort, YAML::Node>> all;
  YAML::Node admin = field(root, "admin");
  all.emplace_back("admin.listen", config.admin.listen, field(admin, "listen"));
  if (config.admin.metrics_listen) {
    all.emplace_back("admin.metrics_listen", *config.admin.metrics_listen, field(admin, "metrics_listen"));
  }
  if (config.gateway) all.emplace_back("gateway.listen", config.gateway->listen, field(field(root, "gateway"), "listen"));
  if (config.client) {
    YAML::Node client = field(root, "client");
    YAML::Node listeners = field(client, "listeners");
    const std::vector<ListenerConfig>& configured = config.client->listeners.get(live);
    for (size_t i = 0; i < configured.size(); ++i) {
      YAML::Node item = listeners.IsSequence() && i < listeners.size() ? listeners[i] : YAML::Node();
      all.emplace_back("client.listeners[" + std::to_string(i) + "].listen", configured[i].listen,
                       field(item, "listen"));
    }
    if (config.client->capture) {
      all.emplace_back("client.capture.listen", config.client->capture->listen, field(field(client, "capture"), "listen"));
    }
  }
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const auto& [key, address, at] = all[i];
      if (!overlapping(address, std::get<1>(all[j]))) continue;
      diag.error(at.IsDefined() ? at : root, key,
                 address.to_string() + " overlaps " + std::get<0>(all[j]) + " (" + std::get<1>(all[j]).to_string() +
                     "): each listener needs an address of its own");
      break;
    }
  }
}

// A rule's `from` or `to`, if written, names something: Istio rejects an empty source or
// operation, and an empty list would read here as "any" where its author meant "none of these"
// (`principals: []` would let every peer through an ALLOW).
void check_rule_part(const YAML::Node& part, const std::string& path, Diagnostics& diag) {
  if (!part.IsDefined() || !part.IsMap()) return;  // absent, or already reported
  if (part.size() == 0) {
    diag.error(part, path, "empty: name at least one field, or leave it out (a rule without it matches any)");
    return;
  }
  for (const auto& entry : part) {
    if (entry.second.IsSequence() && entry.second.size() == 0) {
      diag.error(entry.second, path + "." + entry.first.as<std::string>(),
                 "empty: it would match anything (Istio rejects it); list entries, or leave the field out");
    }
  }
}

// Rules between keys, once every key is read.
// Every policy is named, once: the name is what the log and the metrics report.
void check_policies(const YAML::Node& node, const std::vector<policy::AuthorizationPolicy>& policies,
                    Diagnostics& diag) {
  std::set<std::string> names;
  for (size_t i = 0; i < policies.size(); ++i) {
    const std::string& name = policies[i].name;
    std::string path = "gateway.policies[" + std::to_string(i) + "].name";
    YAML::Node at = node && node.IsSequence() && i < node.size() ? node[i] : node;
    YAML::Node rules = field(at, "rules");
    for (size_t r = 0; rules.IsSequence() && r < rules.size(); ++r) {
      std::string rule_path = "gateway.policies[" + std::to_string(i) + "].rules[" + std::to_string(r) + "]";
      for (const char* part : {"from", "to"}) check_rule_part(field(rules[r], part), rule_path + "." + part, diag);
    }
    if (name.empty()) {
      diag.error(at, path, "required (the log and metrics name the policy that decided)");
    } else if (name == policy::kNoneMatched) {
      diag.error(field(at, "name"), path, "\"none-matched\" is what the log says when no ALLOW policy matched");
    } else if (!names.insert(name).second) {
      diag.error(field(at, "name"), path, "a second policy named \"" + name + "\"");
    }
  }
}

}  // namespace

void check_config(const YAML::Node& root, const Config& config, Diagnostics& diag) {
  LiveRead live;
  check_listeners(root, config, live, diag);
  const TlsConfig& tls = config.tls;
  YAML::Node node = field(root, "tls");
  if (!config.gateway && !config.client && !config.node) {
    diag.error(root, "client/gateway", "nothing to run: configure client, gateway, node or several");
  }
  if (tls.plaintext_h2c) {
    // Without TLS there is no peer identity to check.
    if (config.gateway && !config.gateway->allowed_identities.get(live).empty()) {
      diag.error(field(node, "plaintext_h2c"), "tls.plaintext_h2c", "gateway.allowed_identities needs TLS identities");
    }
    if (config.client && !config.client->gateway_identity.get(live).empty()) {
      diag.error(field(node, "plaintext_h2c"), "tls.plaintext_h2c", "client.gateway_identity needs TLS identities");
    }
  } else if (config.gateway || config.client) {
    // With a certificate from a provider (istiod's CA, a SPIFFE agent) the files are not
    // needed (tls: may be left out).
    bool files = config.identity.files();
    if (!node) {
      if (files) diag.error(node, "tls", "required when client or gateway is configured");
    } else if (node.IsMap()) {  // else reported by the reader (found by tests/fuzz/config_fuzz)
      for (auto [key, value] : {std::pair{"cert", &tls.cert.get(live)}, {"key", &tls.key.get(live)}, {"ca", &tls.ca.get(live)}}) {
        YAML::Node at = field(node, key);
        if (value->empty()) {
          if (files) diag.error(at.IsDefined() ? at : node, std::string("tls.") + key, "required");
        } else if (!files) {
          diag.error(at, std::string("tls.") + key,
                     "set with identity.provider: " + config.identity.provider + " (the provider's certificate is used)");
        } else if (!file_readable(*value)) {
          diag.error(at, std::string("tls.") + key, "cannot read file \"" + *value + "\" (missing or no permission)");
        }
      }
      if (!identity::SpiffeId::valid_trust_domain(tls.trust_domain)) {
        diag.error(field(node, "trust_domain"), "tls.trust_domain", "invalid trust domain \"" + tls.trust_domain + "\"");
      }
    }
  }
  if (const auto& gateway = config.gateway) check_policies(field(field(root, "gateway"), "policies"), gateway->policies.get(live), diag);
  if (const auto& client = config.client) {
    YAML::Node at = field(root, "client");
    const std::vector<address::Route>& routes_read = client->routes.get(live);
    if (client->listeners.get(live).empty() && !client->capture && !field(at, "listeners")) {
      diag.error(at, "client.listeners", "required unless client.capture is set (the client has nothing to accept)");
    }
    if (client->capture && routes_read.empty() && !config.xds) {
      diag.error(field(at, "capture"), "client.routes",
                 "required with client.capture unless xds is set (every captured connection would be reset)");
    }
    if (!client->capture && !routes_read.empty()) {
      diag.error(field(at, "routes"), "client.capture", "required with client.routes (routes apply to captured connections)");
    }
    YAML::Node routes = field(at, "routes");
    for (size_t i = 0; i < routes_read.size(); ++i) {
      const auto& route = routes_read[i];
      YAML::Node item = routes && routes.IsSequence() && i < routes.size() ? routes[i] : routes;
      std::string path = "client.routes[" + std::to_string(i) + "].via";
      if (route.through && route.via.kind == address::RouteVia::Kind::direct) {
        diag.error(field(item, "via"), path, "a direct route has no gateway to reach through another");
      } else if (!route.through && !route.through_identity.empty()) {
        diag.error(field(item, "via_identity"), path + "_identity", "set without via");
      }
    }
    if (tls.plaintext_h2c) {
      for (const auto& route : routes_read) {
        if (!route.identity.empty()) {
          diag.error(field(at, "routes"), "client.routes", "identity needs TLS identities (tls.plaintext_h2c is set)");
          break;
        }
      }
    }
  }
  if (!config.identity.files()) {
    YAML::Node at = field(field(root, "identity"), "provider");
    const std::string& provider = config.identity.provider;
    if (config.identity.istio_ca() && !config.xds) {
      diag.error(at, "identity.provider", "istio_ca needs xds (istiod's root, name and token)");
    }
    if (tls.plaintext_h2c) diag.error(at, "identity.provider", provider + " with tls.plaintext_h2c: no TLS to use it");
  }
  if (config.identity.workload_api()) {
    std::string why;
    if (workload_api_socket(config.identity, why).empty()) {
      YAML::Node at = field(field(root, "identity"), "spiffe_socket");
      diag.error(at.IsDefined() ? at : field(field(root, "identity"), "provider"), "identity.spiffe_socket", why);
    }
  }
  if (config.node) {
    // Each pod's certificate comes from istiod's CA, its workloads and policies from istiod.
    YAML::Node at = field(root, "node");
    if (!config.identity.istio_ca()) diag.error(at, "node", "needs identity.provider: istio_ca (each pod's certificate)");
    if (!config.xds) diag.error(at, "node", "needs xds (the pods' workloads and policies)");
    if (config.node->zds_socket.empty()) diag.error(field(at, "zds_socket"), "node.zds_socket", "required");
  }
  if (const auto& xds = config.xds) {
    YAML::Node at = field(root, "xds");
    YAML::Node root_ca = field(at, "root_ca");
    if (xds->root_ca.empty()) {
      diag.error(root_ca.IsDefined() ? root_ca : at, "xds.root_ca", "required (istiod's certificate is checked against it)");
    } else if (!file_readable(xds->root_ca)) {
      diag.error(root_ca, "xds.root_ca", "cannot read file \"" + xds->root_ca + "\" (missing or no permission)");
    }
    if (xds->istiod_san.empty()) diag.error(field(at, "istiod_san"), "xds.istiod_san", "required");
  }
  const Http2Config& h2 = config.http2;
  if (!h2.auto_window && h2.stream_window >= h2.connection_window) {
    // Equal windows let one stream take the whole connection window (ztunnel deadlocked).
    diag.warning(field(field(root, "http2"), "stream_window"), "http2.stream_window",
                 "stream window " + format_size(h2.stream_window) + " >= connection window " +
                     format_size(h2.connection_window) + ": one stalled tunnel can block all others on its connection");
  }
}

}  // namespace hbone::config
