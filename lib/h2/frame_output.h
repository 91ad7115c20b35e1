#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "h2/stream_handler.h"
#include "metrics/counters.h"
#include "tls/secure_stream.h"
#include "util/byte_buffer.h"

namespace hbone::h2 {

// What nghttp2 writes, turned into TLS records on the SecureStream: the frames it
// serializes itself (HEADERS, SETTINGS, WINDOW_UPDATE, ...) gathered into one record per
// flush; a DATA payload of up to kCoalescedPayload bytes joined to its header and them (one
// AEAD pass per interactive message), a larger one sealed straight from its stream's buffer
// (NGHTTP2_DATA_FLAG_NO_COPY, no copy in user space). It also appends the one SETTINGS entry
// nghttp2 must not know (advertise_only), and measures how long each stream's first queued
// byte waits until the socket takes it (hbone_h2_send_queue_seconds).
class FrameOutput {
 public:
  static constexpr size_t kCoalescedPayload = 4096;

  FrameOutput(tls::SecureStream& transport, metrics::Histogram& send_queue)
      : transport_(transport), send_queue_(send_queue) {}

  // A frame nghttp2 serialized.
  void frame(const uint8_t* data, size_t n);
  // A DATA frame: its 9-byte header and `length` bytes of `handler`'s outgoing data (which
  // the handler is then told were sent); false on a TLS error.
  bool data(const uint8_t* header, StreamHandler& handler, size_t length);
  // Seals the gathered frames into a record.
  void seal();
  // The socket took `written` bytes in all so far.
  void sent(uint64_t written);
  // A SETTINGS value to add to our first SETTINGS frame, unknown to nghttp2.
  void advertise_only(uint16_t id, uint32_t value) { advertise_only_ = {id, value}; }
  // Frees the gathering buffer while empty.
  void shrink() { control_.shrink(); }

 private:
  tls::SecureStream& transport_;
  metrics::Histogram& send_queue_;
  ByteBuffer control_;  // frames not sealed yet
  // Streams' first queued bytes: their offset in the socket's byte stream, and since when.
  std::deque<std::pair<uint64_t, std::chrono::steady_clock::time_point>> queued_;
  std::optional<nghttp2_settings_entry> advertise_only_;
};

}  // namespace hbone::h2
