#pragma once

#include <vector>

#include "metrics/family.h"

namespace hbone::gateway {

// Why the gateway refused to dial a CONNECT target (DestinationGuard, admit).
enum class DestinationRefusal {
  none, own_listener, loopback, link_local, unspecified, metadata, host_address, not_allowed, not_arrived, count
};
// Why a CONNECT's `Forwarded` header was not the source passed on by PROXY v2.
enum class ForwardedIgnored { untrusted, malformed, count };
const char* label(DestinationRefusal refusal);
const char* label(ForwardedIgnored reason);

// One worker's gateway counters (held in its metrics::LayerStats).
struct GatewayStats {
  metrics::ByEnum<DestinationRefusal, metrics::Counter> destinations_refused;
  metrics::ByEnum<ForwardedIgnored, metrics::Counter> forwarded_ignored;
};
void collect(metrics::Families& out, const std::vector<const GatewayStats*>& workers);

}  // namespace hbone::gateway
