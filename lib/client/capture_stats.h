#pragma once

#include <vector>

#include "metrics/family.h"

namespace hbone::client {

// What became of a captured connection (client.capture).
enum class CaptureOutcome { tunnel, direct, unrouted, refused, loop, no_destination, limited, count };
const char* label(CaptureOutcome outcome);

// One worker's capture counters (held in its metrics::LayerStats).
struct CaptureStats {
  metrics::ByEnum<CaptureOutcome, metrics::Counter> captured;
};
void collect(metrics::Families& out, const std::vector<const CaptureStats*>& workers);

}  // namespace hbone::client
