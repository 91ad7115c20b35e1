#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "net/io_handler.h"

namespace hbone::net {

// A connected, ordered byte stream with half-close and reset: what TLS, HTTP/2 and a
// tunnel's local side run over. A TCP socket (SocketStream), or one end of a pipe inside the
// process (MemoryPipe: the inner connection of double HBONE, and the HTTP/2 tests). Calls
// follow the socket calls they stand for, errno included, so that the code above has one
// path for both.
//
// Readiness follows EdgeWatcher's contract: while the stream is ready for an event its
// handler wants, the handler is called (once per loop iteration for a socket); a read or
// write that returns EAGAIN, or less than asked, means "not ready until told".
class ByteStream {
 public:
  virtual ~ByteStream() = default;  // closes it (no reset) if still open

  // Readiness goes to `handler` from now on; interest is kept (none at first).
  virtual void attach(IoHandler& handler) = 0;
  // No more calls to any handler until attach() (the stream changes owner).
  virtual void detach() = 0;
  virtual void watch(int events) = 0;  // UV_READABLE | UV_WRITABLE
  virtual int events() const = 0;
  void want(int flag, bool on) { watch(on ? events() | flag : events() & ~flag); }

  // read(2): bytes read, 0 at the end of the stream, -1 with errno (EAGAIN: nothing yet).
  virtual ssize_t read(uint8_t* data, size_t size) = 0;
  // writev(2) without SIGPIPE: bytes taken, -1 with errno (EAGAIN: no room yet).
  virtual ssize_t write(const iovec* parts, size_t count) = 0;
  ssize_t write(const uint8_t* data, size_t size) {
    iovec part{const_cast<uint8_t*>(data), size};
    return write(&part, 1);
  }
  // FIN: the peer reads the end of the stream once it read the rest.
  virtual void shutdown_write() = 0;
  // Why the handler was called with a negative status (ECONNRESET, ...); 0 if unknown.
  virtual int error() = 0;
  // Stops watching and closes it, with a reset (RST) if `reset`. Idempotent.
  virtual void close(bool reset) = 0;
};

}  // namespace hbone::net
