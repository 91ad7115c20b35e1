#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "address/destination_policy.h"
#include "address/route.h"
#include "mesh/mesh_state.h"
#include "policy/authorization.h"
#include "tls/certificate_info.h"
#include "tls/tls_context.h"

namespace hbone::tunnel {

// The live snapshot: every value a reload replaces while tunnels stay open (the keys.h
// keys of Reload::live: certificates as TLS contexts, allow-lists, policies, the client's
// listeners and routes, limits). Immutable once built; each worker swaps in whole snapshots,
// and each connection keeps the snapshot it was made with alive for as long as it needs it.
// It is the only reader of a Config's live values (config::LiveRead): nothing can act on
// one of them any other way.
struct PeerPolicy {
  // Set when the role runs, unless tls.plaintext_h2c.
  std::shared_ptr<const tls::TlsContext> server_tls;
  std::shared_ptr<const tls::TlsContext> client_tls;
  std::vector<std::string> allowed_identities;        // gateway.allowed_identities
  std::vector<std::string> trusted_forwarders;        // gateway.trusted_forwarders
  address::DestinationPolicy destinations;                // gateway.allowed_destinations
  std::vector<policy::AuthorizationPolicy> authorization;  // gateway.policies
  std::string gateway_identity;                       // client.gateway_identity
  std::vector<address::Route> routes;                 // client.routes
  std::vector<config::ListenerConfig> listeners;      // client.listeners (bound by the daemon)
  config::LimitsConfig limits;                        // limits.*
  tls::Credentials tls_files;                         // tls.cert, tls.key, tls.ca (watched, re-read); empty with istio_ca
  // What the TLS contexts were built from (empty with tls.plaintext_h2c): /certs and the
  // expiry gauge.
  std::vector<tls::CertificateInfo> own_chain;
  std::vector<tls::CertificateInfo> ca_bundle;
  std::string config_dump;  // the config it was built from, as YAML: /config_dump
  // The mesh as istiod last described it (never null; empty without xds), and this node's
  // network in it (xds.network).
  std::shared_ptr<const mesh::MeshState> mesh = std::make_shared<const mesh::MeshState>();
  std::string network;

  // What a snapshot speaks as: its TLS contexts and the chain they hold.
  struct Identity {
    std::shared_ptr<const tls::TlsContext> server_tls;
    std::shared_ptr<const tls::TlsContext> client_tls;
    std::vector<tls::CertificateInfo> own_chain;
    std::vector<tls::CertificateInfo> ca_bundle;
    // Both roles' contexts from a certificate istiod's CA issued. Throws tls::TlsSetupError.
    static Identity issued(const config::Config& config, const tls::IssuedIdentity& issued);
  };
  // This snapshot speaking as `identity` (a node proxy's pod): the rest shared in value.
  std::shared_ptr<const PeerPolicy> as(const Identity& identity) const;

  // Throws tls::TlsSetupError naming the tls.* key at fault.
  // `issued`: the certificate istiod's CA issued (identity.provider: istio_ca), if any yet.
  static std::shared_ptr<const PeerPolicy> build(const config::Config& config,
                                                 std::shared_ptr<const mesh::MeshState> mesh = nullptr,
                                                 std::shared_ptr<const tls::IssuedIdentity> issued = nullptr);
  // Whether its roles have the TLS they need (a CA's certificate may not have come yet).
  bool has_tls(const config::Config& config) const {
    return config.tls.plaintext_h2c || ((!config.gateway || server_tls) && (!config.client || client_tls));
  }

  bool allows_identity(const std::string& id) const;
  // Whether `id` may name the client's address in a Forwarded header (gateway.trusted_forwarders).
  bool trusts_forwarder(const std::string& id) const;
};

}  // namespace hbone::tunnel
