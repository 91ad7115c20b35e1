#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace hbone::grpc {

// gRPC over HTTP/2 as grpc/doc/PROTOCOL-HTTP2.md defines it: what a call's DATA, headers and
// trailers carry. The client that speaks it to istiod (xDS, certificates) and to a SPIFFE
// Workload API agent runs on hbone's own HTTP/2 (README: design notes, why not libgrpc++).

// Status codes (grpc/doc/statuscodes.md).
enum class Code : int {
  ok = 0,
  cancelled = 1,
  unknown = 2,
  invalid_argument = 3,
  deadline_exceeded = 4,
  not_found = 5,
  already_exists = 6,
  permission_denied = 7,
  resource_exhausted = 8,
  failed_precondition = 9,
  aborted = 10,
  out_of_range = 11,
  unimplemented = 12,
  internal = 13,
  unavailable = 14,
  data_loss = 15,
  unauthenticated = 16,
};
const char* name(Code code);  // "UNAVAILABLE", as gRPC spells them

struct Status {
  Code code = Code::ok;
  std::string message;
  bool ok() const { return code == Code::ok; }
};

// A call's outcome from its trailers (or a trailers-only response): `grpc_status` (absent or
// not a code: UNKNOWN, as the spec says) and `grpc_message`, percent-decoded.
Status status_from_trailers(std::optional<std::string_view> grpc_status, std::string_view grpc_message);
// grpc-message's percent-encoding undone; a malformed escape stays as it was.
std::string percent_decode(std::string_view text);

// The grpc-timeout header for a deadline `left` from now: at most 8 digits, in the finest
// unit that fits, rounded up (the server never gives up earlier than asked).
std::string timeout_header(std::chrono::nanoseconds left);

// Appends `message` to `out` as one uncompressed length-prefixed message: a zero flag byte,
// the length in 4 bytes big-endian, the bytes.
void frame_message(std::string_view message, std::string& out);

// Splits a call's DATA into its messages as they complete, whatever the DATA frames' sizes.
class MessageReader {
 public:
  enum class Result {
    ok,
    compressed,  // a compressed message, though no compression was offered: the call fails
    too_large,   // longer than the limit: refused before it is buffered
  };
  explicit MessageReader(size_t max_message) : max_message_(max_message) {}

  // Takes `data`; hands each message it completes to `on_message`. After an error the call
  // is over (nothing more is read).
  Result feed(std::span<const uint8_t> data, const std::function<void(std::string&&)>& on_message);
  // Part of a message is held: at the stream's end, a truncated message.
  bool partial() const { return prefix_size_ > 0; }

 private:
  static constexpr size_t kPrefix = 5;
  size_t max_message_;
  uint8_t prefix_[kPrefix] = {};
  size_t prefix_size_ = 0;  // of prefix_ received; kPrefix: in the body
  std::string body_;
  size_t body_size_ = 0;  // the message's length, once the prefix is complete
};

}  // namespace hbone::grpc
