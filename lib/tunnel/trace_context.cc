#include "tunnel/trace_context.h"

#include <algorithm>

namespace hbone::tunnel {
namespace {

bool lower_hex(std::string_view digits) {
  return std::all_of(digits.begin(), digits.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view digits) {
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c == '0'; });
}

}  // namespace

std::optional<std::string> trace_id_of(std::string_view traceparent) {
  // 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
  constexpr size_t kLength = 55;
  if (traceparent.size() < kLength || traceparent[2] != '-' || traceparent[35] != '-' || traceparent[52] != '-') {
    return std::nullopt;
  }
  std::string_view version = traceparent.substr(0, 2), trace_id = traceparent.substr(3, 32),
                   parent_id = traceparent.substr(36, 16), flags = traceparent.substr(53, 2);
  if (!lower_hex(version) || version == "ff" || !lower_hex(trace_id) || !lower_hex(parent_id) || !lower_hex(flags)) {
    return std::nullopt;
  }
  // Version 00 is exactly this long; a later version may append fields after a dash.
  if (traceparent.size() > kLength && (version == "00" || traceparent[kLength] != '-')) return std::nullopt;
  if (all_zero(trace_id) || all_zero(parent_id)) return std::nullopt;
  return std::string(trace_id);
}

}  // namespace hbone::tunnel
