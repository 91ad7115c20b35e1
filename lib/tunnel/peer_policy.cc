#include "tunnel/peer_policy.h"

#include <algorithm>

namespace hbone::tunnel {

std::shared_ptr<const PeerPolicy> PeerPolicy::build(const config::Config& config) {
  auto policy = std::make_shared<PeerPolicy>();
  bool tls = !config.tls.plaintext_h2c;
  const tls::Credentials files{config.tls.cert, config.tls.key, config.tls.ca};
  if (tls) {
    policy->own_chain = tls::read_certificates(config.tls.cert);
    policy->ca_bundle = tls::read_certificates(config.tls.ca);
  }
  policy->limits = config.limits;
  if (config.gateway) {
    if (tls) {
      policy->server_tls = std::make_shared<const tls::TlsContext>(files, tls::TlsContext::Role::server,
                                                                 config.tls.own_record_layer);
    }
    policy->allowed_identities = config.gateway->allowed_identities;
    policy->trusted_forwarders = config.gateway->trusted_forwarders;
    policy->destinations = config.gateway->allowed_destinations;
    policy->authorization = config.gateway->policies;
  }
  if (config.client) {
    if (tls) {
      policy->client_tls = std::make_shared<const tls::TlsContext>(files, tls::TlsContext::Role::client,
                                                                 config.tls.own_record_layer);
    }
    policy->gateway_identity = config.client->gateway_identity;
    policy->routes = config.client->routes;
    policy->listeners = config.client->listeners;
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
