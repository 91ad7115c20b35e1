#include "client/pool_set.h"

namespace hbone::client {

PoolSet::PoolSet(worker::Context& worker, std::shared_ptr<const PeerPolicy> policy)
    : worker_(worker), policy_(std::move(policy)) {}

ConnectionPool& PoolSet::get(const Upstream& upstream) {
  std::unique_ptr<ConnectionPool>& pool = pools_[upstream.key()];
  if (pool) return *pool;
  ConnectionPool::Carrier carrier;
  if (upstream.through) {
    // Double HBONE: each connection of this pool is carried by a tunnel of the east-west
    // gateway's pool (made on first use, swept like any other once it has no connection).
    carrier = [this, outer = upstream.outer()](ClientConnection::Local local, Tunnel::Info info) {
      get(outer).open_tunnel(std::move(local), std::move(info));
    };
  }
  pool = std::make_unique<ConnectionPool>(worker_, upstream, policy_, std::move(carrier));
  return *pool;
}

void PoolSet::sweep() {
  auto now = std::chrono::steady_clock::now();
  for (auto& [key, pool] : pools_) pool->close_idle(now);
  std::erase_if(pools_, [](const auto& entry) { return entry.second->size() == 0; });
}

size_t PoolSet::connection_count() const {
  size_t n = 0;
  for (const auto& [key, pool] : pools_) n += pool->size();
  return n;
}

void PoolSet::drain() {
  for (auto& [key, pool] : pools_) pool->drain();
}

void PoolSet::close_all() {
  for (auto& [key, pool] : pools_) pool->close_all();
}

void PoolSet::set_policy(std::shared_ptr<const PeerPolicy> policy) {
  policy_ = policy;
  for (auto& [key, pool] : pools_) pool->set_policy(policy);
}

}  // namespace hbone::client
