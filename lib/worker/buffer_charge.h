#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "util/byte_buffer.h"

#include "worker/context.h"

namespace hbone::worker {

// What one relay's buffers (a tunnel's, a direct connection's) hold against
// limits.buffer_memory: charged by their allocated capacity, what they keep whether full or
// not; shown in the role's hbone_buffered_bytes; given back when this goes. And the relay's
// place in the worker's BufferGate while it waits for room.
class BufferCharge final : BufferGate::Waiter {
 public:
  // At the budget, a relay that holds nothing still reads, this much at a time: interactive
  // traffic goes on, and what it reads leaves at once.
  static constexpr size_t kSmallRead = 16 * 1024;

  // `on_room`: the budget has room again after wait().
  BufferCharge(Context& worker, int role, std::function<void()> on_room)
      : worker_(worker), role_(role), on_room_(std::move(on_room)) {}
  ~BufferCharge() {
    if (waiting_) worker_.buffers.cancel(this);
    set(0);
  }
  BufferCharge(const BufferCharge&) = delete;
  BufferCharge& operator=(const BufferCharge&) = delete;

  // The buffers' capacity now.
  void set(size_t capacity) {
    auto now = static_cast<int64_t>(capacity);
    if (now == charged_) return;
    worker_.buffers.budget().charge(now - charged_);
    worker_.metrics.buffered_bytes[role_].add(now - charged_);
    charged_ = now;
  }
  int64_t charged() const { return charged_; }
  // Waits for the budget to have room, once: on_room then comes.
  void wait() {
    if (waiting_) return;
    waiting_ = true;
    worker_.buffers.wait(this);
  }
  bool exhausted() const { return worker_.buffers.exhausted(); }
  uint64_t room() const { return worker_.buffers.budget().room(); }

  // How much of `room` a read into `buffer` (growing up to `limit`) may take under the budget,
  // the same rule for tunnels and direct relays. While the budget has what the buffer would
  // grow by (it is charged by capacity), all of it. Past that, a relay that `holds_bytes`
  // reads only into the room its buffer has; one that holds nothing still reads, into that
  // room or kSmallRead, but no more than `takes_at_once()`, what leaves at once (a tunnel:
  // the peer's windows), so that a stalled relay parks nothing past the budget.
  template <typename TakesAtOnce>
  size_t read_room(const ByteBuffer& buffer, size_t room, size_t limit, bool holds_bytes,
                   TakesAtOnce&& takes_at_once) const {
    if (buffer.growth(room, limit) <= this->room()) return room;
    size_t spare = buffer.capacity() - buffer.size();
    if (holds_bytes) return std::min(room, spare);
    return std::min({room, std::max(spare, kSmallRead), takes_at_once()});
  }

 private:
  void on_budget_room() override {
    waiting_ = false;
    on_room_();
  }

  Context& worker_;
  int role_;
  std::function<void()> on_room_;
  int64_t charged_ = 0;
  bool waiting_ = false;
};

}  // namespace hbone::worker
