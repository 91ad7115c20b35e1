#pragma once

#include <cerrno>
#include <memory>
#include <string>

#include "net/byte_stream.h"

namespace hbone::test {

// One test-held end of a tunnel (the application, or the target), over any ByteStream: a
// socket or a MemoryPipe end. Non-blocking, one step per loop turn; nothing is attached,
// the test polls.
struct Endpoint {
  std::unique_ptr<net::ByteStream> stream;
  std::string to_send;
  size_t sent = 0;
  bool fin_after_send = false;
  bool fin_sent = false;
  bool reading = true;
  std::string received;
  bool eof = false;
  int error = 0;

  void step() {
    while (stream && sent < to_send.size()) {
      ssize_t n = stream->write(reinterpret_cast<const uint8_t*>(to_send.data()) + sent, to_send.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    if (stream && fin_after_send && !fin_sent && sent == to_send.size()) {
      stream->shutdown_write();
      fin_sent = true;
    }
    uint8_t buf[65536];
    while (stream && reading && !eof && !error) {
      ssize_t n = stream->read(buf, sizeof(buf));
      if (n > 0) {
        received.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
      } else if (n == 0) {
        eof = true;
      } else {
        if (errno != EAGAIN) error = errno;
        break;
      }
    }
  }

  // Closes with a reset (RST), as an application that aborts.
  void reset() {
    stream->close(/*reset=*/true);
    stream.reset();
  }
};

}  // namespace hbone::test
