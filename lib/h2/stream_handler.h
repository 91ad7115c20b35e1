#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "net/event_loop.h"

namespace hbone::h2 {

// What a connection needs from one of its streams (a tunnel). Outgoing DATA is taken
// straight from the handler's buffer (NGHTTP2_DATA_FLAG_NO_COPY): the bytes read from the
// local socket are encrypted in place, never copied into a frame buffer first.
class StreamHandler : public net::Retirable {
 public:
  // Data provider: how many buffered bytes may go into the next DATA frame (<= max);
  // sets *eof when they are the last. Returns -1 when nothing is buffered yet (deferred).
  virtual long next_data(size_t max, bool* eof) = 0;
  virtual const uint8_t* outgoing_data() const = 0;
  // When the oldest byte now buffered for sending was read, if it has not been framed yet
  // (time_point{} otherwise): the start of what hbone_h2_send_queue_seconds measures.
  virtual std::chrono::steady_clock::time_point queued_since() const = 0;
  virtual void outgoing_sent(size_t n) = 0;

  // `data` stays valid until write_received(): the handler may keep pointers to it and
  // write several chunks with one call.
  virtual void on_peer_data(const uint8_t* data, size_t n) = 0;
  // Writes (or copies aside) what on_peer_data() left pending. The connection calls it
  // once it has parsed what one socket read brought, before that buffer is reused.
  virtual void write_received() = 0;
  // Everything received so far was written on (no backlog toward the local side).
  virtual bool keeping_up() const = 0;
  virtual void on_peer_end_stream() = 0;
  // The HTTP/2 stream is gone (END_STREAM both ways, or RST_STREAM either way).
  virtual void on_stream_closed(uint32_t error_code) = 0;
  // The whole connection is going away: close the local side at once, with RST.
  virtual void abort() = 0;
  // The peer raised a send window (this stream's or the connection's).
  virtual void on_window_update() = 0;
  // The connection takes no new stream (GOAWAY sent or received); this one carries on.
  virtual void on_connection_draining() {}

  // Observability: byte rates over the last `seconds`, and a JSON description.
  virtual void sample_rate(double seconds) = 0;
  virtual void describe(nlohmann::json& out) const = 0;
};

}  // namespace hbone::h2
