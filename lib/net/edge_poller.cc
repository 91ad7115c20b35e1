#include "net/edge_poller.h"

#include <sys/epoll.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "net/socket_ops.h"

namespace hbone::net {

namespace {

// Events read per epoll_wait; more stay ready in the set for the next one.
constexpr int kBatch = 64;
// The key of libuv's descriptor in the set: no slot's (slot indexes stay far below).
constexpr uint64_t kLoopKey = ~uint64_t{0};

uint64_t make_key(uint32_t index, uint32_t generation) { return uint64_t{generation} << 32 | index; }
uint32_t index_of(uint64_t key) { return static_cast<uint32_t>(key); }

}  // namespace

EdgePoller::EdgePoller(uv_loop_t* loop) : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  // Level-triggered: ready until libuv has run what its own set reports.
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kLoopKey;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, uv_backend_fd(loop), &event) != 0) {
    throw std::runtime_error(std::string("epoll_ctl (libuv's set): ") + std::strerror(errno));
  }
}

uint64_t EdgePoller::add(EdgeWatcher* watcher) {
  uint32_t index;
  if (free_.empty()) {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    index = free_.back();
    free_.pop_back();
  }
  slots_[index].watcher = watcher;
  ++registered_;
  return make_key(index, slots_[index].generation);
}

void EdgePoller::remove(uint64_t key) {
  Slot& slot = slots_[index_of(key)];
  slot.watcher = nullptr;
  ++slot.generation;
  free_.push_back(index_of(key));
  --registered_;
}

EdgeWatcher* EdgePoller::find(uint64_t key) const {
  const Slot& slot = slots_[index_of(key)];
  return make_key(index_of(key), slot.generation) == key ? slot.watcher : nullptr;
}

bool EdgePoller::wait(int timeout_ms) {
  epoll_event events[kBatch];
  int n = ::epoll_wait(epoll_.get(), events, kBatch, timeout_ms);
  bool loop_ready = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kLoopKey) {
      loop_ready = true;
      continue;
    }
    EdgeWatcher* w = find(events[i].data.u64);
    if (!w) continue;  // gone since
    uint32_t e = events[i].events;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) w->ready_ |= UV_READABLE;
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) w->ready_ |= UV_WRITABLE;
    if (e & EPOLLERR) w->error_ = true;
    if (e & (EPOLLRDHUP | EPOLLHUP)) w->peer_closed_ = true;
    w->queue_if_due();
  }
  run_queued();
  return loop_ready;
}

void EdgePoller::run_queued() {
  running_.swap(queued_);
  for (uint64_t key : running_) {
    if (EdgeWatcher* w = find(key)) {
      w->queued_ = false;
      w->call();
    }
  }
  running_.clear();
}

EdgeWatcher::EdgeWatcher(EdgePoller& poller, int fd, IoHandler* handler)
    : poller_(&poller), handler_(handler), fd_(fd), key_(poller.add(this)) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = key_;
  if (::epoll_ctl(poller_->epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    int err = errno;
    poller_->remove(key_);
    throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(err));
  }
}

EdgeWatcher EdgeWatcher::adopt(EdgePoller& poller, int fd, IoHandler* handler, std::optional<EdgeWatcher> dialled) {
  if (!dialled) return EdgeWatcher(poller, fd, handler);
  dialled->set_handler(handler);
  return std::move(*dialled);
}

EdgeWatcher::EdgeWatcher(EdgeWatcher&& other) noexcept : poller_(other.poller_) { take(other); }

EdgeWatcher& EdgeWatcher::operator=(EdgeWatcher&& other) noexcept {
  if (this != &other) {
    unregister();
    take(other);
  }
  return *this;
}

void EdgeWatcher::take(EdgeWatcher& other) {
  poller_ = other.poller_;
  handler_ = other.handler_;
  fd_ = other.fd_;
  key_ = other.key_;
  events_ = other.events_;
  ready_ = other.ready_;
  error_ = other.error_;
  peer_closed_ = other.peer_closed_;
  queued_ = other.queued_;
  registered_ = other.registered_;
  moved_ = false;
  poller_->slots_[index_of(key_)].watcher = this;
  other.moved_ = true;
}

EdgeWatcher::~EdgeWatcher() { unregister(); }

void EdgeWatcher::unregister() {
  if (moved_) return;
  moved_ = true;
  if (registered_) ::epoll_ctl(poller_->epoll_.get(), EPOLL_CTL_DEL, fd_, nullptr);
  poller_->remove(key_);
}

void EdgeWatcher::watch(int events) {
  events_ = events;
  queue_if_due();
}

void EdgeWatcher::queue_if_due() {
  if (!due() || queued_) return;
  queued_ = true;
  poller_->queue(key_);
}

void EdgeWatcher::call() {
  int due_now = due();
  if (!due_now) return;
  uint64_t key = key_;
  EdgePoller& poller = *poller_;
  handler_->on_io(error_ ? UV_EBADF : 0, error_ ? 0 : due_now);
  // Still ready for what it wants (it read a full buffer, say): again next iteration, as a
  // level-triggered watcher would be. The handler may have destroyed this watcher.
  if (EdgeWatcher* self = poller.find(key)) self->queue_if_due();
}

void close_watched(std::optional<EdgeWatcher>& watcher, Fd& fd, bool reset) {
  if (watcher) watcher->closing();
  watcher.reset();
  if (reset) {
    close_with_reset(fd);
  } else {
    fd.reset();
  }
}

}  // namespace hbone::net
