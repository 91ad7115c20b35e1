#include "net/memory_pipe.h"

#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hbone::net {
namespace {

class PipeEnd final : public ByteStream, public Flushable {
 public:
  PipeEnd(EventLoop& loop, size_t capacity) : loop_(loop), capacity_(capacity) {}
  ~PipeEnd() override {
    if (destroyed_) *destroyed_ = true;  // flush() is calling the handler, which let go of us
    close(false);
  }

  void join(PipeEnd& peer) {
    peer_ = &peer;
    peer.peer_ = this;
  }

  void attach(IoHandler& handler) override {
    handler_ = &handler;
    notify();
  }
  void detach() override { handler_ = nullptr; }
  void watch(int events) override {
    events_ = events;
    notify();
  }
  int events() const override { return events_; }

  ssize_t read(uint8_t* data, size_t size) override {
    if (reset_) return fail(ECONNRESET);
    if (closed_) return fail(EBADF);
    if (in_.empty()) return peer_eof_ ? 0 : fail(EAGAIN);
    size_t n = std::min(size, in_.size());
    std::memcpy(data, in_.data(), n);
    in_.consume(n);
    if (in_.empty()) in_.shrink();
    ++progress_;
    if (peer_) peer_->notify();  // room for its writes again
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const iovec* parts, size_t count) override {
    if (reset_) return fail(ECONNRESET);
    if (closed_) return fail(EBADF);
    if (shut_ || !peer_) return fail(EPIPE);
    size_t room = capacity_ - std::min(capacity_, peer_->in_.size());
    if (room == 0) return fail(EAGAIN);
    size_t taken = 0;
    for (size_t i = 0; i < count && taken < room; ++i) {
      size_t n = std::min(parts[i].iov_len, room - taken);
      peer_->in_.append(static_cast<const uint8_t*>(parts[i].iov_base), n);
      taken += n;
    }
    ++progress_;
    peer_->notify();
    return static_cast<ssize_t>(taken);
  }
  using ByteStream::write;

  void shutdown_write() override {
    if (shut_ || closed_) return;
    shut_ = true;
    ++progress_;
    if (peer_) {
      peer_->peer_eof_ = true;
      peer_->notify();
    }
  }

  int error() override { return reset_ ? ECONNRESET : 0; }

  void close(bool reset) override {
    if (closed_) return;
    closed_ = true;
    events_ = 0;  // a queued flush finds nothing due
    if (!peer_) return;
    // As TCP: closing with bytes left unread sends a reset, not a FIN.
    if (reset || !in_.empty()) {
      peer_->reset_ = true;
      peer_->in_.consume(peer_->in_.size());
    } else {
      peer_->peer_eof_ = true;
    }
    peer_->peer_ = nullptr;
    peer_->notify();
    peer_ = nullptr;
  }

  void flush() override {
    int due = this->due();
    if (!handler_ || !due) return;
    uint64_t before = progress_;
    bool destroyed = false;
    destroyed_ = &destroyed;
    handler_->on_io(0, due);
    if (destroyed) return;  // the handler closed and freed this end
    destroyed_ = nullptr;
    // Level-triggered: called again while still ready, if the call moved bytes (a handler
    // that took nothing is called again once something changes, not in a loop).
    if (progress_ != before) notify();
  }

 private:
  ssize_t fail(int error) {
    errno = error;
    return -1;
  }
  int due() const {
    if (closed_) return 0;
    int ready = 0;
    if (!in_.empty() || peer_eof_ || reset_) ready |= UV_READABLE;
    // Writable while the peer has room, and when writing would fail at once (gone, reset).
    if (reset_ || !peer_ || peer_->in_.size() < capacity_) ready |= UV_WRITABLE;
    return ready & events_;
  }
  void notify() {
    if (handler_ && due()) loop_.schedule_flush(this);
  }

  EventLoop& loop_;
  const size_t capacity_;
  PipeEnd* peer_ = nullptr;  // null once either end closed
  IoHandler* handler_ = nullptr;
  int events_ = 0;
  ByteBuffer in_;             // what the peer wrote, not yet read
  uint64_t progress_ = 0;     // reads and writes done (see flush)
  bool peer_eof_ = false;     // the peer shut down its writing or closed
  bool reset_ = false;        // the peer reset the stream
  bool shut_ = false;         // shutdown_write() done
  bool closed_ = false;
  bool* destroyed_ = nullptr;  // set while flush() calls the handler
};

}  // namespace

MemoryPipe::Ends MemoryPipe::make(EventLoop& loop, size_t capacity) {
  auto a = std::make_unique<PipeEnd>(loop, capacity);
  auto b = std::make_unique<PipeEnd>(loop, capacity);
  a->join(*b);
  return {std::move(a), std::move(b)};
}

}  // namespace hbone::net
