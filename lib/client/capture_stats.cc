#include "client/capture_stats.h"

namespace hbone::client {

const char* label(CaptureOutcome outcome) {
  switch (outcome) {
    case CaptureOutcome::tunnel: return "tunnel";
    case CaptureOutcome::direct: return "direct";
    case CaptureOutcome::unrouted: return "unrouted";
    case CaptureOutcome::refused: return "refused";
    case CaptureOutcome::loop: return "loop";
    case CaptureOutcome::no_destination: return "no_destination";
    case CaptureOutcome::limited: return "limited";
    case CaptureOutcome::count: break;
  }
  return "?";
}

void collect(metrics::Families& out, const std::vector<const CaptureStats*>& workers) {
  metrics::by_label(out, "hbone_capture_connections_total",
                    "Captured connections (client.capture) by outcome: tunnel, direct, unrouted (no route: "
                    "reset), refused (the mesh's: a waypoint, no healthy endpoint; reset), loop (hbone's own connection "
                    "captured: reset), no_destination, limited",
                    "outcome", workers, &CaptureStats::captured);
  metrics::FamilyBuilder f(out, "hbone_capture_unrouted_total",
                           "Captured connections no client.routes entry matched (reset, never sent in the clear)",
                           prometheus::MetricType::Counter);
  f.value({}, metrics::sum(workers, [](const CaptureStats& s) { return s.captured[CaptureOutcome::unrouted].value(); }));
}

}  // namespace hbone::client
