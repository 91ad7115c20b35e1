#include "tunnel/tunnel_stats.h"

namespace hbone::tunnel {

const char* label(StallScope scope) {
  switch (scope) {
    case StallScope::stream: return "stream";
    case StallScope::connection: return "connection";
    case StallScope::count: break;
  }
  return "?";
}

const char* label(LimitRefusal refusal) {
  switch (refusal) {
    case LimitRefusal::none: return "none";
    case LimitRefusal::max_tunnels: return "max_tunnels";
    case LimitRefusal::max_tunnels_per_identity: return "max_tunnels_per_identity";
    case LimitRefusal::count: break;
  }
  return "?";
}

void collect(metrics::Families& out, const std::vector<const TunnelStats*>& workers) {
  metrics::by_role_and_label(out, "hbone_flow_control_stalls_total",
                             "Times a tunnel had data to send but no HTTP/2 send window (raise the window)", "scope",
                             workers, &TunnelStats::stalls);
  metrics::by_role_and_label(out, "hbone_flow_control_stall_seconds_total",
                             "Time tunnels spent with data to send but no send window", "scope", workers,
                             &TunnelStats::stall_micros, 1e-6);
  metrics::by_role_and_label(out, "hbone_tunnel_limit_rejections_total",
                             "Tunnels refused by limits.max_tunnels or limits.max_tunnels_per_identity", "limit",
                             workers, &TunnelStats::limit_rejections);
}

}  // namespace hbone::tunnel
