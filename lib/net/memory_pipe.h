#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "net/byte_stream.h"
#include "net/event_loop.h"
#include "util/byte_buffer.h"

namespace hbone::net {

// Two ByteStreams joined inside the process, on one loop: what one end writes, the other
// reads, with at most `capacity` bytes in flight each way (a writer then gets EAGAIN and is
// told when there is room, as a socket pair's writer would). No descriptor, no system call:
// the inner connection of double HBONE rides its carrier tunnel through one, and the HTTP/2
// tests run a client and a server over one.
//
// Semantics kept from TCP: shutdown_write() is a FIN (the peer reads what was sent, then the
// end); close(true) is a reset (the peer's next read or write fails with ECONNRESET, unread
// bytes are dropped); closing while unread bytes are left is a reset too; writing to an end
// whose peer is gone fails with EPIPE. Readiness is level-triggered, delivered from the
// loop's flush phase (EventLoop::schedule_flush), never from inside the writer's call.
class MemoryPipe {
 public:
  using Ends = std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>>;
  static Ends make(EventLoop& loop, size_t capacity);
};

}  // namespace hbone::net
