#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "net/uv_handle.h"

namespace hbone::net {

// Something whose output is best written once per loop iteration, after every ready
// socket was read: many tunnels' DATA then leave in one TLS write.
class Flushable {
 public:
  virtual void flush() = 0;

 protected:
  ~Flushable() = default;
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
  void run();
  // One iteration without blocking; false when nothing is left to run.
  bool run_nowait() { return uv_run(&loop_, UV_RUN_NOWAIT) != 0; }
  void stop() { uv_stop(&loop_); }

  // Queues `f` for flush() after this iteration's I/O callbacks. `f` must be retired
  // through retire(), never destroyed directly, while it may be queued.
  void schedule_flush(Flushable* f);
  void retire(std::unique_ptr<Retirable> object);

  // From any thread: runs `task` on this loop's thread.
  void post(std::function<void()> task);

 private:
  void after_io();
  void run_posted();
  void wake();

  uv_loop_t loop_;
  std::optional<UvHandle<uv_check_t>> check_;
  std::optional<UvHandle<uv_async_t>> async_;
  // Active only while work is queued: keeps the next poll from blocking, so work queued
  // from a timer callback is not left waiting for unrelated I/O.
  std::optional<UvHandle<uv_idle_t>> idle_;
  bool idle_active_ = false;
  std::vector<Flushable*> flush_queue_;
  std::vector<Flushable*> flushing_;
  std::vector<std::unique_ptr<Retirable>> retired_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace hbone::net
