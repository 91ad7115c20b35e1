#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "net/edge_poller.h"
#include "net/uv_handle.h"

namespace hbone::net {

class EventLoop;

// Something whose output is best written once per loop iteration, after every ready
// socket was read: many tunnels' DATA then leave in one TLS write.
class Flushable {
 public:
  virtual void flush() = 0;

 protected:
  Flushable() = default;
  Flushable(const Flushable&) = delete;
  Flushable& operator=(const Flushable&) = delete;
  // Leaves the loop's queue: a flush can queue its own object again and then retire it.
  ~Flushable();

 private:
  friend class EventLoop;
  EventLoop* queued_on_ = nullptr;  // set while in that loop's flush queue
};

// Objects destroyed later, outside any of their own callbacks.
class Retirable {
 public:
  virtual ~Retirable() = default;
};

// One libuv loop: a worker's, or the main thread's. Not thread-safe except post().
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* uv() { return &loop_; }
  // Until stop() or nothing is left to run.
  void run();
  // One iteration without blocking; false when nothing is left to run.
  bool run_nowait() { return turn(false); }
  // run() returns after this iteration (each blocks once at most). Not uv_stop: its flag,
  // left set by a stop from a socket's callback, would keep the destructor's uv_run from
  // closing the loop's handles.
  void stop() { stopped_ = true; }

  // Queues `f` for one flush() after this iteration's I/O callbacks (again if it is
  // queued already: once). A queued object that is destroyed leaves the queue.
  void schedule_flush(Flushable* f);
  // Destroys `object` after this iteration's flushes, outside any of its own callbacks.
  void retire(std::unique_ptr<Retirable> object);

  // From any thread: runs `task` on this loop's thread.
  void post(std::function<void()> task);

  // The edge-triggered socket set of this loop (made on first use).
  EdgePoller& edges() {
    if (!edges_) edges_.emplace(&loop_);
    return *edges_;
  }

 private:
  friend class Flushable;
  // One iteration: blocks (if `block`) in the edge set once there is one, else in libuv.
  bool turn(bool block);
  // One non-blocking libuv iteration: its timers, its descriptors, its new watchers.
  void run_libuv();
  void after_io();
  void run_posted();
  void wake();
  void cancel_flush(Flushable* f);

  uv_loop_t loop_;
  std::optional<UvHandle<uv_check_t>> check_;
  std::optional<UvHandle<uv_async_t>> async_;
  // Active only while work is queued: keeps the next poll from blocking, so work queued
  // from a timer callback is not left waiting for unrelated I/O.
  std::optional<UvHandle<uv_idle_t>> idle_;
  bool idle_active_ = false;
  std::vector<Flushable*> flush_queue_;
  std::vector<Flushable*> flushing_;  // the batch being flushed; null where cancelled
  std::vector<std::unique_ptr<Retirable>> retired_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::optional<EdgePoller> edges_;  // after retired_: retired objects may hold watchers
  bool stopped_ = false;
};

}  // namespace hbone::net
