#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "net/event_loop.h"

namespace hbone::h2 {

// Owns a worker's connections of one kind (a gateway's accepted ones, a client pool's).
// A connection that closes hands itself back through release(), usually from inside its
// own callback: it is retired to the loop, never destroyed on the spot. drain() and
// close_all() walk a snapshot, since a connection may release itself meanwhile.
template <typename Connection>
class ConnectionSet {
 public:
  explicit ConnectionSet(net::EventLoop& loop) : loop_(loop) {}
  ConnectionSet(const ConnectionSet&) = delete;
  ConnectionSet& operator=(const ConnectionSet&) = delete;
  ~ConnectionSet() { close_all("shutting down"); }

  Connection& add(std::unique_ptr<Connection> conn) { return *connections_.emplace_back(std::move(conn)); }
  // False when `conn` was not (or no longer) held.
  bool release(Connection* conn) {
    auto it = std::find_if(connections_.begin(), connections_.end(),
                           [conn](const auto& held) { return held.get() == conn; });
    if (it == connections_.end()) return false;
    loop_.retire(std::move(*it));
    connections_.erase(it);
    return true;
  }

  size_t size() const { return connections_.size(); }
  // In the order they were added (the oldest first).
  template <typename F>
  void for_each(F&& f) {
    for (auto& conn : connections_) f(*conn);
  }
  // GOAWAY on each; they close with their last stream.
  void drain() {
    for (Connection* conn : snapshot()) conn->drain();
  }
  void close_all(const std::string& reason) {
    for (Connection* conn : snapshot()) conn->close(reason);
  }

 private:
  std::vector<Connection*> snapshot() const {
    std::vector<Connection*> all;
    for (const auto& conn : connections_) all.push_back(conn.get());
    return all;
  }

  net::EventLoop& loop_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace hbone::h2
