#include "h2/frame_output.h"

#include <cstring>

namespace hbone::h2 {

void FrameOutput::frame(const uint8_t* data, size_t n) {
  constexpr size_t kHeader = 9;
  constexpr size_t kEntry = 6;  // RFC 9113 §6.5.1: 16-bit id, 32-bit value
  bool first_settings = advertise_only_ && n >= kHeader && data[3] == NGHTTP2_SETTINGS &&
                        !(data[4] & NGHTTP2_FLAG_ACK) &&
                        ((size_t{data[0]} << 16) | (size_t{data[1]} << 8) | data[2]) == n - kHeader;
  if (!first_settings) {
    control_.append(data, n);
    return;
  }
  // nghttp2 1.52 answers a stream beyond the *acknowledged* SETTINGS_MAX_CONCURRENT_STREAMS
  // with a connection error, killing every tunnel on it; RFC 9113 §5.1.2 allows a stream
  // error, and REFUSED_STREAM tells the client it may retry. So nghttp2 is not told the
  // limit: the entry is appended to our first SETTINGS frame here and enforced by the role.
  uint8_t header[kHeader];
  std::memcpy(header, data, kHeader);
  size_t length = n - kHeader + kEntry;
  header[0] = static_cast<uint8_t>(length >> 16);
  header[1] = static_cast<uint8_t>(length >> 8);
  header[2] = static_cast<uint8_t>(length);
  uint32_t value = advertise_only_->value;
  uint16_t id = static_cast<uint16_t>(advertise_only_->settings_id);
  const uint8_t entry[kEntry] = {static_cast<uint8_t>(id >> 8),     static_cast<uint8_t>(id),
                                 static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
                                 static_cast<uint8_t>(value >> 8),  static_cast<uint8_t>(value)};
  control_.append(header, kHeader);
  control_.append(data + kHeader, n - kHeader);
  control_.append(entry, kEntry);
  advertise_only_.reset();
}

bool FrameOutput::data(const uint8_t* header, StreamHandler& handler, size_t length) {
  // The frame header rides in the same record as any queued control frames. A small
  // payload joins them (one record, one AEAD pass: what an interactive message costs); a
  // large one is encrypted straight from the tunnel's read buffer into its own records.
  control_.append(header, 9);
  if (auto since = handler.queued_since(); since != std::chrono::steady_clock::time_point{}) {
    // The payload's first byte leaves once the socket has taken what is queued before it.
    queued_.emplace_back(transport_.written() + transport_.queued() + control_.size(), since);
  }
  if (length <= kCoalescedPayload) {
    control_.append(handler.outgoing_data(), length);
    seal();
  } else {
    seal();
    if (!transport_.seal(handler.outgoing_data(), length)) return false;
  }
  handler.outgoing_sent(length);
  return true;
}

void FrameOutput::seal() {
  if (control_.empty()) return;
  transport_.seal(control_.data(), control_.size());
  control_.consume(control_.size());
}

void FrameOutput::sent(uint64_t written) {
  if (queued_.empty() || queued_.front().first > written) return;
  auto now = std::chrono::steady_clock::now();
  for (; !queued_.empty() && queued_.front().first <= written; queued_.pop_front()) {
    send_queue_.observe(std::chrono::duration<double>(now - queued_.front().second).count());
  }
}

}  // namespace hbone::h2
