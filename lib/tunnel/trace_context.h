#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hbone::tunnel {

// The trace id of a W3C Trace Context `traceparent` header (version-traceid-parentid-flags,
// https://www.w3.org/TR/trace-context/#traceparent-header), as ztunnel sends it on its
// CONNECTs: 32 lowercase hex digits, not all zero. nullopt for a header the spec says to
// ignore (bad length or digits, zero ids, version ff).
std::optional<std::string> trace_id_of(std::string_view traceparent);

}  // namespace hbone::tunnel
