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
  // Double HBONE: connections to `address` run inside tunnels through this east-west
  // gateway, whose SPIFFE id must be `through_identity` when that is set.
  std::optional<address::HostPort> through = {};
  std::string through_identity = {};

  // "address identity[ through gateway identity]": the pool's name in /debug/tunnels and its key.
  std::string key() const {
    std::string name =
        address.to_string() + " " + (identity ? (identity->empty() ? "*" : *identity) : "client.gateway_identity");
    if (through) name += " through " + through->to_string() + " " + (through_identity.empty() ? "*" : through_identity);
    return name;
  }
  // The tunnels' way to `through`: an ordinary upstream.
  Upstream outer() const { return {*through, through_identity, {}, {}}; }
};

}  // namespace hbone::client
