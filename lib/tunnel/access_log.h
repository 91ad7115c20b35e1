#pragma once

#include <cstdint>
#include <string_view>

namespace hbone::tunnel {

// One record per tunnel, opened or refused: the line a log pipeline keys on. In text
// (log.format: text) it reads `tunnel role=... src=... peer=... dst=... status=... flags=...
// [policy=...] [reason="..."] sent=... received=... duration=...ms close="..."`; in JSON one
// object a line with the same fields (log/json_formatter.h).
struct AccessRecord {
  std::string_view role;
  std::string_view source;
  std::string_view peer;  // the HTTP/2 peer's SPIFFE id
  std::string_view target;
  std::string_view route;     // client: what chose the target
  std::string_view trace_id;  // gateway: from traceparent
  int status = 0;
  std::string_view flags;   // Envoy's response flags, "-" for none
  std::string_view policy;  // the gateway.policies entry that decided, if any
  std::string_view reason;  // why a tunnel was refused
  uint64_t sent = 0;
  uint64_t received = 0;
  int64_t duration_ms = 0;
  std::string_view close;
};

void write_access_log(const AccessRecord& record);

}  // namespace hbone::tunnel
