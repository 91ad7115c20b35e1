#include "gateway/gateway_stats.h"

namespace hbone::gateway {

const char* label(DestinationRefusal refusal) {
  switch (refusal) {
    case DestinationRefusal::none: return "none";
    case DestinationRefusal::own_listener: return "own_listener";
    case DestinationRefusal::loopback: return "loopback";
    case DestinationRefusal::link_local: return "link_local";
    case DestinationRefusal::unspecified: return "unspecified";
    case DestinationRefusal::metadata: return "metadata";
    case DestinationRefusal::host_address: return "host_address";
    case DestinationRefusal::not_allowed: return "not_allowed";
    case DestinationRefusal::not_arrived: return "not_arrived";
    case DestinationRefusal::count: break;
  }
  return "?";
}

const char* label(ForwardedIgnored reason) {
  switch (reason) {
    case ForwardedIgnored::untrusted: return "untrusted";
    case ForwardedIgnored::malformed: return "malformed";
    case ForwardedIgnored::count: break;
  }
  return "?";
}

void collect(metrics::Families& out, const std::vector<const GatewayStats*>& workers) {
  metrics::by_label(out, "hbone_gateway_destinations_refused_total",
                    "CONNECT targets the gateway refused to dial: hbone's own listeners, reserved addresses "
                    "(loopback, link-local, unspecified, metadata) or the host's own not named in allowed_destinations, "
                    "others not allowed, or not the address the connection arrived on",
                    "reason", workers, &GatewayStats::destinations_refused);
  metrics::by_label(out, "hbone_gateway_forwarded_ignored_total",
                    "CONNECTs whose Forwarded header was not passed on as the PROXY v2 source (the peer's own "
                    "address was): from a peer not in gateway.trusted_forwarders, or not an RFC 7239 address",
                    "reason", workers, &GatewayStats::forwarded_ignored);
}

}  // namespace hbone::gateway
