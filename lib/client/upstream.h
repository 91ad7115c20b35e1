#pragma once

#include <optional>
#include <string>

#include "address/host_port.h"

namespace hbone::client {

// Where a pool's connections go and whom they must reach: one pool per (gateway address,
// expected identity), so two routes to one gateway share connections only when they
// expect the same peer.
struct Upstream {
  address::HostPort address;
  // The gateway's expected SPIFFE id ("" : any in the trust domain); nullopt: follow
  // client.gateway_identity, which a reload may change.
  std::optional<std::string> identity;

  // "address identity": the pool's name in /debug/tunnels and its key.
  std::string key() const {
    return address.to_string() + " " + (identity ? (identity->empty() ? "*" : *identity) : "client.gateway_identity");
  }
};

}  // namespace hbone::client
