#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "net/fd.h"

namespace hbone::net {

// Places each accepted connection on the worker with the fewest (Envoy's "exact balance").
// SO_REUSEPORT hashes connections to workers: fine for many short ones, bad for a handful
// of long-lived pooled HTTP/2 connections: two clients' connections land on one of two
// workers half the time, and that worker carries every tunnel while the other idles.
// Thread-safe; the counts are exact once accepts settle (concurrent ones may both pick
// the same worker).
class ConnectionBalancer {
 public:
  // Gives worker `index` a connection: runs on the accepting worker's thread, so it posts.
  using HandOff = std::function<void(unsigned index, Fd fd, std::string peer)>;

  explicit ConnectionBalancer(unsigned workers) : counts_(workers) {}
  void set_hand_off(HandOff hand_off) { hand_off_ = std::move(hand_off); }

  // `worker` accepted a connection: the worker that takes it, counted for it from now on.
  unsigned place(unsigned worker);
  void hand_off(unsigned index, Fd fd, std::string peer) { hand_off_(index, std::move(fd), std::move(peer)); }
  // A connection placed on `worker` has ended (or was never adopted).
  void release(unsigned worker) { counts_[worker].fetch_sub(1, std::memory_order_relaxed); }
  int64_t count(unsigned worker) const { return counts_[worker].load(std::memory_order_relaxed); }

 private:
  std::vector<std::atomic<int64_t>> counts_;
  HandOff hand_off_;
};

}  // namespace hbone::net
