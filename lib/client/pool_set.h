#pragma once

#include <map>
#include <memory>
#include <string>

#include "client/connection_pool.h"
#include "client/upstream.h"

namespace hbone::client {

// A worker's connection pools, one per upstream (gateway address, expected identity):
// made on first use, dropped once empty (by sweep), so a mesh of many
// `destination:15008` peers holds connections only to the peers in use.
class PoolSet {
 public:
  PoolSet(worker::Context& worker, std::shared_ptr<const PeerPolicy> policy);
  ~PoolSet() { close_all(); }

  ConnectionPool& get(const Upstream& upstream);
  // Once a second: closes idle pooled connections, drops pools without connections (not
  // while the loop is inside one of them).
  void sweep();
  size_t connection_count() const;
  template <typename F>
  void for_each_connection(F&& f) {
    for (auto& [key, pool] : pools_) pool->for_each_connection(f);
  }
  void drain();
  void close_all();
  void set_policy(std::shared_ptr<const PeerPolicy> policy);
  // The newest snapshot (client.routes, identities); valid until the next set_policy.
  const PeerPolicy& policy() const { return *policy_; }

 private:
  worker::Context& worker_;
  std::shared_ptr<const PeerPolicy> policy_;
  std::map<std::string, std::unique_ptr<ConnectionPool>> pools_;
};

}  // namespace hbone::client
