#include "net/own_connections.h"

#include "address/reserved.h"
#include "net/socket_ops.h"

namespace hbone::net {
namespace {
constexpr auto kLifetime = std::chrono::seconds(10);  // a looped connection arrives within ms

// "local->remote", IPv4-mapped addresses as plain IPv4 (how capture reports them).
std::string connection_key(const sockaddr* local, const sockaddr* remote) {
  sockaddr_storage a = address::unmapped(local), b = address::unmapped(remote);
  return format_address(reinterpret_cast<const sockaddr*>(&a)) + "->" +
         format_address(reinterpret_cast<const sockaddr*>(&b));
}

}  // namespace

OwnConnections& OwnConnections::instance() {
  static OwnConnections connections;
  return connections;
}

void OwnConnections::add(int fd, const sockaddr* remote) {
  if (!enabled_) return;
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return;
  std::string key = connection_key(reinterpret_cast<const sockaddr*>(&local), remote);
  auto now = Clock::now();
  std::lock_guard lock(mutex_);
  expire(now);
  added_[key] = now;
  order_.emplace_back(now, std::move(key));
}

bool OwnConnections::take(const sockaddr* peer, const sockaddr* destination) {
  if (!enabled_) return false;
  std::string key = connection_key(peer, destination);
  std::lock_guard lock(mutex_);
  expire(Clock::now());
  return added_.erase(key) > 0;
}

void OwnConnections::expire(Clock::time_point now) {
  while (!order_.empty() && now - order_.front().first > kLifetime) {
    auto it = added_.find(order_.front().second);
    // A port reused since keeps its newer entry.
    if (it != added_.end() && it->second == order_.front().first) added_.erase(it);
    order_.pop_front();
  }
}

}  // namespace hbone::net
