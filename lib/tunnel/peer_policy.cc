#include "tunnel/peer_policy.h"

#include <algorithm>
#include <functional>

#include "config/config_text.h"

namespace hbone::tunnel {

std::shared_ptr<const PeerPolicy> PeerPolicy::build(const config::Config& config,
                                                   std::shared_ptr<const mesh::MeshState> mesh,
                                                   std::shared_ptr<const tls::IssuedIdentity> issued) {
  const config::LiveRead live;
  auto policy = std::make_shared<PeerPolicy>();
  if (mesh) policy->mesh = std::move(mesh);
  if (config.xds) policy->network = config.xds->network;
  // TLS contexts from the files, or from the certificate istiod's CA issued; none until it
  // has (the daemon starts no worker before), nor with tls.plaintext_h2c.
  bool from_files = !config.tls.plaintext_h2c && config.identity.files();
  std::function<std::shared_ptr<const tls::TlsContext>(tls::TlsContext::Role)> context;
  if (from_files) {
    policy->tls_files = {config.tls.cert.get(live), config.tls.key.get(live), config.tls.ca.get(live)};
    policy->own_chain = tls::read_certificates(policy->tls_files.cert);
    policy->ca_bundle = tls::read_certificates(policy->tls_files.ca);
    context = [&](tls::TlsContext::Role role) {
      return std::make_shared<const tls::TlsContext>(policy->tls_files, role, config.tls.own_record_layer);
    };
  } else if (issued && !config.tls.plaintext_h2c) {
    Identity identity = Identity::issued(config, *issued);
    policy->own_chain = identity.own_chain;
    policy->ca_bundle = identity.ca_bundle;
    context = [identity](tls::TlsContext::Role role) {
      return role == tls::TlsContext::Role::server ? identity.server_tls : identity.client_tls;
    };
  }
  policy->limits = config.limits.get(live);
  policy->config_dump = config::dump_config(config);
  if (config.gateway) {
    if (context) policy->server_tls = context(tls::TlsContext::Role::server);
    policy->allowed_identities = config.gateway->allowed_identities.get(live);
    policy->trusted_forwarders = config.gateway->trusted_forwarders.get(live);
    policy->destinations = config.gateway->allowed_destinations.get(live);
    policy->authorization = config.gateway->policies.get(live);
  }
  if (config.client) {
    if (context) policy->client_tls = context(tls::TlsContext::Role::client);
    policy->gateway_identity = config.client->gateway_identity.get(live);
    policy->routes = config.client->routes.get(live);
    policy->listeners = config.client->listeners.get(live);
  }
  return policy;
}

PeerPolicy::Identity PeerPolicy::Identity::issued(const config::Config& config, const tls::IssuedIdentity& issued) {
  return {std::make_shared<const tls::TlsContext>(issued, tls::TlsContext::Role::server, config.tls.own_record_layer),
          std::make_shared<const tls::TlsContext>(issued, tls::TlsContext::Role::client, config.tls.own_record_layer),
          tls::parse_certificates(issued.chain), tls::parse_certificates(issued.roots)};
}

std::shared_ptr<const PeerPolicy> PeerPolicy::as(const Identity& identity) const {
  auto policy = std::make_shared<PeerPolicy>(*this);
  policy->server_tls = identity.server_tls;
  policy->client_tls = identity.client_tls;
  policy->own_chain = identity.own_chain;
  policy->ca_bundle = identity.ca_bundle;
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
