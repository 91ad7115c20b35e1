#pragma once

#include <array>
#include <vector>

#include "metrics/family.h"

namespace hbone::tunnel {

// Which of the peer's flow-control windows a tunnel waits on: its stream's or the whole
// connection's.
enum class StallScope { stream, connection, count };
// Which tunnel cap refused a tunnel (Admission).
enum class LimitRefusal { none, max_tunnels, max_tunnels_per_identity, count };
const char* label(StallScope scope);
const char* label(LimitRefusal refusal);

// One worker's tunnel counters (held in its metrics::LayerStats), by role.
struct TunnelStats {
  std::array<metrics::ByEnum<StallScope, metrics::Counter>, metrics::kRoles> stalls;
  std::array<metrics::ByEnum<StallScope, metrics::Counter>, metrics::kRoles> stall_micros;
  std::array<metrics::ByEnum<LimitRefusal, metrics::Counter>, metrics::kRoles> limit_rejections;
};
void collect(metrics::Families& out, const std::vector<const TunnelStats*>& workers);

}  // namespace hbone::tunnel
