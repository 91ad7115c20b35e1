#include "net/event_loop.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace hbone::net {

Flushable::~Flushable() {
  if (queued_on_) queued_on_->cancel_flush(this);
}

EventLoop::EventLoop() {
  int rc = uv_loop_init(&loop_);
  if (rc != 0) throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
  check_.emplace();
  uv_check_init(&loop_, check_->get());
  check_->initialized();
  check_->get()->data = this;
  uv_check_start(check_->get(), [](uv_check_t* h) { static_cast<EventLoop*>(h->data)->after_io(); });
  // The check handle alone must not keep the loop alive.
  uv_unref(check_->base());
  async_.emplace();
  uv_async_init(&loop_, async_->get(),
                [](uv_async_t* h) { static_cast<EventLoop*>(h->data)->run_posted(); });
  async_->initialized();
  async_->get()->data = this;
  uv_unref(async_->base());
  idle_.emplace();
  uv_idle_init(&loop_, idle_->get());
  idle_->initialized();
  // libuv adds the async handle to its epoll set when it first polls: now, so that a post
  // also wakes a loop that blocks in the edge set before libuv ever ran.
  run_libuv();
}

EventLoop::~EventLoop() {
  for (Flushable* f : flush_queue_) {
    if (f) f->queued_on_ = nullptr;  // null: cancelled (destroyed) while queued
  }
  flush_queue_.clear();
  retired_.clear();
  edges_.reset();
  check_.reset();
  async_.reset();
  idle_.reset();
  // Anything still open has lost its owner: close it, and let all close callbacks run.
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void EventLoop::run() {
  while (!stopped_ && turn(true)) {
  }
  stopped_ = false;
}

bool EventLoop::turn(bool block) {
  if (!edges_) return uv_run(&loop_, block ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0 || edges_;
  // libuv runs only when something of its own is due: its descriptor (in the edge set),
  // a timer, a closing handle, or a watcher it has yet to add to its epoll set (counted by
  // uv_backend_timeout); a socket's wake-up costs one epoll_wait.
  uv_update_time(&loop_);
  if (uv_loop_alive(&loop_) && uv_backend_timeout(&loop_) == 0) {
    run_libuv();
    if (stopped_) return true;  // by one of its callbacks: run() returns, nothing waits
  }
  bool uv_alive = uv_loop_alive(&loop_) != 0;
  if (!uv_alive && !edges_->holds_watchers() && !edges_->has_queued()) return false;
  int timeout = 0;
  if (block && !edges_->has_queued()) timeout = uv_alive ? uv_backend_timeout(&loop_) : -1;
  if (edges_->wait(timeout)) run_libuv();
  after_io();
  return true;
}

void EventLoop::run_libuv() {
  // uv_run does nothing while no handle of libuv's own keeps the loop alive (a post alone,
  // say): the idle handle makes it poll, and its check phase (after_io) stops it again.
  wake();
  uv_run(&loop_, UV_RUN_NOWAIT);
}

void EventLoop::schedule_flush(Flushable* f) {
  if (f->queued_on_) return;
  f->queued_on_ = this;
  flush_queue_.push_back(f);
  wake();
}

void EventLoop::cancel_flush(Flushable* f) {
  f->queued_on_ = nullptr;
  for (auto* queue : {&flush_queue_, &flushing_}) std::replace(queue->begin(), queue->end(), f, static_cast<Flushable*>(nullptr));
}

void EventLoop::retire(std::unique_ptr<Retirable> object) {
  retired_.push_back(std::move(object));
  wake();
}

void EventLoop::wake() {
  if (idle_active_) return;
  idle_active_ = true;
  uv_idle_start(idle_->get(), [](uv_idle_t*) {});
}

void EventLoop::after_io() {
  // A flush can queue more flushes (a drained write frees window for another stream, or
  // the object itself is queued again), and a destructor can retire more objects or queue
  // flushes: run both until quiet. Retired objects die only once no flush is pending.
  while (!flush_queue_.empty() || !retired_.empty()) {
    while (!flush_queue_.empty()) {
      flushing_.swap(flush_queue_);
      for (size_t i = 0; i < flushing_.size(); ++i) {
        Flushable* f = flushing_[i];
        if (!f) continue;  // destroyed by an earlier flush of this batch
        f->queued_on_ = nullptr;  // before flush(): it may queue itself again
        f->flush();
      }
      flushing_.clear();
    }
    std::vector<std::unique_ptr<Retirable>> dead;
    dead.swap(retired_);
  }
  if (idle_active_) {
    idle_active_ = false;
    uv_idle_stop(idle_->get());
  }
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  uv_async_send(async_->get());
}

void EventLoop::run_posted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(posted_mutex_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
  after_io();
}

}  // namespace hbone::net
