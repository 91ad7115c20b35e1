#pragma once

#include <array>
#include <cstddef>

#include "net/failures.h"

namespace hbone::metrics {

// Every outcome that becomes a metric label is one enum here, ending in `count`: the layer
// that produces it uses the type itself, counters are sized and indexed by it (ByEnum), and
// the collector prints label() from the same place. Nothing is kept in step by comments.

enum class StallScope { stream, connection, count };
enum class TlsResult {
  ok, no_certificate, bad_certificate, alpn, spiffe_id, trust_domain, identity, timeout, error, count
};
// The failures net/ reports, counted and labelled here.
using ConnectFailure = net::DialFailure;
using AcceptFailure = net::AcceptFailure;
// Why the gateway refused to dial a CONNECT target (gateway/destination_guard.h).
enum class DestinationRefusal {
  none, own_listener, loopback, link_local, unspecified, metadata, host_address, not_allowed, not_arrived, count
};
// Why a CONNECT's `Forwarded` header was not the source passed on by PROXY v2.
enum class ForwardedIgnored { untrusted, malformed, count };
// Which tunnel cap refused a tunnel (tunnel::Admission::Refusal).
enum class LimitRefusal { none, max_tunnels, max_tunnels_per_identity, count };
// What became of a captured connection (client.capture).
enum class CaptureOutcome { tunnel, direct, unrouted, loop, no_destination, limited, count };

const char* label(StallScope scope);
const char* label(TlsResult result);
const char* label(ConnectFailure failure);
const char* label(LimitRefusal refusal);
const char* label(DestinationRefusal refusal);
const char* label(ForwardedIgnored reason);
const char* label(AcceptFailure failure);
const char* label(CaptureOutcome outcome);

template <typename E>
inline constexpr size_t kCount = static_cast<size_t>(E::count);

// One T per value of the label enum E.
template <typename E, typename T>
class ByEnum {
 public:
  T& operator[](E e) { return items_[static_cast<size_t>(e)]; }
  const T& operator[](E e) const { return items_[static_cast<size_t>(e)]; }
  // Calls f(E) for every value but `count`.
  template <typename F>
  static void for_each(F&& f) {
    for (size_t i = 0; i < kCount<E>; ++i) f(static_cast<E>(i));
  }

 private:
  std::array<T, kCount<E>> items_;
};

}  // namespace hbone::metrics
