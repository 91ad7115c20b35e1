#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "net/event_loop.h"
#include "net/timer.h"

namespace hbone::worker {

// limits.buffer_memory: the bytes the process's tunnels hold in user space (their local
// read buffers and the peer's bytes not yet written, by allocated capacity), shared by
// every worker. A tunnel charges what its buffers grow by and gives back what they shrink
// by; nothing on the data path waits on it, it only reads one atomic.
class BufferBudget {
 public:
  explicit BufferBudget(uint64_t limit) : limit_(limit) {}
  // A reload's limit (0: none); tunnels over it stop reading until there is room.
  void set_limit(uint64_t limit) { limit_.store(limit, std::memory_order_relaxed); }
  void charge(int64_t delta) { used_.fetch_add(delta, std::memory_order_relaxed); }
  // At or above the limit (never with limit 0).
  bool exhausted() const {
    uint64_t limit = this->limit();
    return limit && used() >= static_cast<int64_t>(limit);
  }
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  // What may still be taken before the limit (unbounded without one).
  uint64_t room() const {
    uint64_t limit = this->limit();
    if (!limit) return UINT64_MAX;
    int64_t left = static_cast<int64_t>(limit) - used();
    return left > 0 ? static_cast<uint64_t>(left) : 0;
  }
  uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> limit_;
  std::atomic<int64_t> used_{0};
};

// One worker's side of the budget: the tunnels that stopped for it, each told once it has
// room again. Room may come from any worker, so while some wait it is looked at every
// 10 ms (a timer that runs only then).
class BufferGate {
 public:
  class Waiter {
   public:
    virtual void on_budget_room() = 0;

   protected:
    ~Waiter() = default;
  };

  BufferGate(net::EventLoop& loop, BufferBudget& budget);
  BufferBudget& budget() const { return budget_; }
  bool exhausted() const { return budget_.exhausted(); }
  // Adds `waiter` (once) to be told when there is room; cancel() before it goes away.
  void wait(Waiter* waiter);
  void cancel(Waiter* waiter);

 private:
  void check();

  BufferBudget& budget_;
  std::vector<Waiter*> waiting_;
  net::Timer timer_;
};

}  // namespace hbone::worker
