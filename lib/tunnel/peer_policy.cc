#include "tunnel/peer_policy.h"

#include <algorithm>

#include "config/config_text.h"

namespace hbone::tunnel {

std::shared_ptr<const PeerPolicy> PeerPolicy::build(const config::Config& config,
                                                   std::shared_ptr<const mesh::MeshState> mesh) {
  const config::LiveRead live;
  auto policy = std::make_shared<PeerPolicy>();
  if (mesh) policy->mesh = std::move(mesh);
  if (config.xds) policy->network = config.xds->network;
  bool tls = !config.tls.plaintext_h2c;
  policy->tls_files = {config.tls.cert.get(live), config.tls.key.get(live), config.tls.ca.get(live)};
  if (tls) {
    policy->own_chain = tls::read_certificates(policy->tls_files.cert);
    policy->ca_bundle = tls::read_certificates(policy->tls_files.ca);
  }
  policy->limits = config.limits.get(live);
  policy->config_dump = config::dump_config(config);
  if (config.gateway) {
    if (tls) {
      policy->server_tls = std::make_shared<const tls::TlsContext>(policy->tls_files, tls::TlsContext::Role::server,
                                                                 config.tls.own_record_layer);
    }
    policy->allowed_identities = config.gateway->allowed_identities.get(live);
    policy->trusted_forwarders = config.gateway->trusted_forwarders.get(live);
    policy->destinations = config.gateway->allowed_destinations.get(live);
    policy->authorization = config.gateway->policies.get(live);
  }
  if (config.client) {
    if (tls) {
      policy->client_tls = std::make_shared<const tls::TlsContext>(policy->tls_files, tls::TlsContext::Role::client,
                                                                 config.tls.own_record_layer);
    }
    policy->gateway_identity = config.client->gateway_identity.get(live);
    policy->routes = config.client->routes.get(live);
    policy->listeners = config.client->listeners.get(live);
  }
  return policy;
}

bool PeerPolicy::allows_identity(const std::string& id) const {
  return allowed_identities.empty() ||
         std::find(allowed_identities.begin(), allowed_identities.end(), id) != allowed_identities.end();
}

bool PeerPolicy::trusts_forwarder(const std::string& id) const {
  return std::find(trusted_forwarders.begin(), trusted_forwarders.end(), id) != trusted_forwarders.end();
}

}  // namespace hbone::tunnel
