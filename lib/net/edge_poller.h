#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <vector>

#include "net/fd.h"
#include "net/io_handler.h"

namespace hbone::net {

class EdgeWatcher;

// A loop's own epoll set, for sockets registered once, edge-triggered, for reading and
// writing: a tunnel's socket costs one epoll_ctl in its life (closing it unregisters it),
// where libuv's uv_poll costs two per change of interest, two at init and one at close.
// The loop blocks in this set (EventLoop::run), which holds libuv's own epoll descriptor
// as one more member: a socket's event wakes the thread straight from here, with one
// epoll_wait, and libuv runs only when its descriptor or a timer is due. Interest is kept
// in memory (EdgeWatcher).
class EdgePoller {
 public:
  explicit EdgePoller(uv_loop_t* loop);
  EdgePoller(const EdgePoller&) = delete;
  EdgePoller& operator=(const EdgePoller&) = delete;

  // Waits up to `timeout_ms` (-1: no limit) for events, then calls back every watcher
  // that has events due. True if libuv's descriptor is ready (the loop then runs libuv).
  bool wait(int timeout_ms);
  // Watchers registered (a worker with only tunnels left keeps running them).
  bool holds_watchers() const { return registered_ > 0; }
  // Watchers due again before any new event (the loop must not block).
  bool has_queued() const { return !queued_.empty(); }

 private:
  friend class EdgeWatcher;
  // A watcher's place: the generation tells a stale event (of a watcher gone since the
  // batch was read) from one of the slot's next watcher.
  struct Slot {
    EdgeWatcher* watcher = nullptr;
    uint32_t generation = 0;
  };
  uint64_t add(EdgeWatcher* watcher);
  void remove(uint64_t key);
  EdgeWatcher* find(uint64_t key) const;
  // `watcher` has events due: called back from this loop iteration's dispatch or the next.
  void queue(uint64_t key) { queued_.push_back(key); }
  void run_queued();

  Fd epoll_;
  size_t registered_ = 0;  // watchers in slots_
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<uint64_t> queued_;
  std::vector<uint64_t> running_;  // the batch being called back
};

// One socket in an EdgePoller, with PollWatcher's level-triggered contract kept in memory:
// the handler is called once per loop iteration while the socket is ready for something it
// wants. "Ready" is learnt from edges and forgotten only when the handler says so
// (drained()): a handler must call it when a read or write returns EAGAIN or a read
// returns less than it asked for, or it is called again.
class EdgeWatcher {
 public:
  // Registers `fd` (throws if epoll refuses it); events start unwanted.
  EdgeWatcher(EdgePoller& poller, int fd, IoHandler* handler);
  // `fd` watched for `handler`: through `dialled` (the registration its dial made) if
  // there is one, else registered now.
  static EdgeWatcher adopt(EdgePoller& poller, int fd, IoHandler* handler, std::optional<EdgeWatcher> dialled);
  // Unregisters the socket, unless closing() said its descriptor is about to be closed.
  ~EdgeWatcher();
  // The registration moves with the socket (a dialled socket to its tunnel): no epoll_ctl.
  EdgeWatcher(EdgeWatcher&& other) noexcept;
  EdgeWatcher& operator=(EdgeWatcher&& other) noexcept;

  // Events go to `handler` from now on (its interest is kept).
  void set_handler(IoHandler* handler) { handler_ = handler; }

  void watch(int events);
  void want(int flag, bool on) { watch(on ? events_ | flag : events_ & ~flag); }
  int events() const { return events_; }
  // The socket is not ready for `flags` (UV_READABLE / UV_WRITABLE) until its next edge.
  // Once the peer's FIN has been seen, reads never wait again (what is left is read, then
  // end of file): a short read then drains nothing.
  void drained(int flags) { ready_ &= ~(peer_closed_ ? flags & ~UV_READABLE : flags); }
  // The rule above, from what a read or write that asked for `asked` bytes returned (`n`,
  // errno when negative): less than asked, or EAGAIN, and the socket is empty (full) until
  // its next edge. A writer that writes again after a short write passes only the result
  // that ends its loop.
  void read_returned(ssize_t n, size_t asked) {
    if (exhausted(n, asked)) drained(UV_READABLE);
  }
  void write_returned(ssize_t n, size_t asked) {
    if (exhausted(n, asked)) drained(UV_WRITABLE);
  }
  // Its descriptor is closed right after this watcher: closing it unregisters it.
  void closing() { registered_ = false; }

 private:
  friend class EdgePoller;
  static bool exhausted(ssize_t n, size_t asked) { return n >= 0 ? static_cast<size_t>(n) < asked : errno == EAGAIN; }
  int due() const { return error_ ? events_ : ready_ & events_; }
  // Once in the poller's queue while events it wants are due.
  void queue_if_due();
  void call();
  void take(EdgeWatcher& other);
  void unregister();

  EdgePoller* poller_;  // never null
  IoHandler* handler_;
  int fd_;
  uint64_t key_;
  int events_ = 0;
  int ready_ = 0;
  bool error_ = false;
  bool peer_closed_ = false;  // EPOLLRDHUP or EPOLLHUP seen
  bool queued_ = false;
  bool registered_ = true;
  bool moved_ = false;
};

// Stops watching `fd` and closes it, with RST if `reset` (closing it unregisters it).
void close_watched(std::optional<EdgeWatcher>& watcher, Fd& fd, bool reset);

}  // namespace hbone::net
