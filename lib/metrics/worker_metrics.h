#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <tuple>

#include "metrics/counters.h"
#include "metrics/dimensions.h"
#include "metrics/layer_stats.h"
#include "net/failures.h"

namespace hbone::metrics {

// Istio's standard TCP metric labels. reporter is "source" for the client role and
// "destination" for the gateway. response_flags follow Envoy's: "-" ok, "UF" upstream
// connect failure, "UAEX" not authorized, "DPE" bad request (400, 405, 431), "UO" over a tunnel
// limit (429, 503).
struct IstioLabels {
  int role = kClient;
  std::string source_principal;
  std::string destination_principal;
  std::string response_flags = "-";
  bool operator<(const IstioLabels& o) const {
    return std::tie(role, source_principal, destination_principal, response_flags) <
           std::tie(o.role, o.source_principal, o.destination_principal, o.response_flags);
  }
};

struct IstioTcp {
  Counter opened;
  Counter closed;
  Counter failed;
  Counter sent_bytes;      // towards the downstream (response direction)
  Counter received_bytes;  // from the downstream (request direction)
};

// All metrics of one worker. Scalars are single-writer atomics; the Istio map only takes
// its lock when a new label set appears (and on scrape).
class WorkerMetrics {
 public:
  static constexpr size_t kFrameTypes = 10;  // RFC 9113 frame types 0..9
  static constexpr size_t kMaxIstioLabelSets = 1024;

  // A stable pointer to the counters of one label set; folded into an "overflow"
  // principal beyond kMaxIstioLabelSets to keep cardinality bounded.
  IstioTcp* istio(IstioLabels labels);
  template <typename F>
  void for_each_istio(F&& f) const {
    std::lock_guard lock(istio_mutex_);
    for (const auto& [labels, counters] : istio_) f(labels, counters);
  }
  // gateway.policies decisions by the deciding policy's name and action; as bounded as istio().
  Counter* policy_decision(std::string_view policy, bool allowed);
  template <typename F>
  void for_each_policy_decision(F&& f) const {
    std::lock_guard lock(istio_mutex_);
    for (const auto& [key, counter] : policy_decisions_) f(key.first, key.second, counter);
  }
  Counter policy_resets;  // open tunnels reset because a changed policy denies them

  std::array<Gauge, kRoles> tunnels_active;
  std::array<Gauge, kRoles> connections_active;
  std::array<Counter, kRoles> streams_refused;
  std::array<std::array<Counter, kFrameTypes>, kRoles> frames_sent;
  std::array<std::array<Counter, kFrameTypes>, kRoles> frames_received;
  std::array<Histogram, kRoles> data_frame_bytes{make_frame_histogram(), make_frame_histogram()};
  std::array<Histogram, kRoles> streams_per_connection{make_streams_histogram(),
                                                       make_streams_histogram()};
  std::array<Histogram, kRoles> setup_seconds{make_latency_histogram(), make_latency_histogram()};
  // A stream's first queued byte: read from the local socket until written to the HBONE socket.
  std::array<Histogram, kRoles> send_queue_seconds{make_queue_histogram(), make_queue_histogram()};
  ByEnum<net::DialFailure, Counter> upstream_connect_failures;
  ByEnum<net::AcceptFailure, Counter> accept_errors;
  std::array<Counter, kRoles> idle_timeouts;
  std::array<Counter, kRoles> keepalive_timeouts;  // HBONE connections closed on an unanswered PING
  std::array<Gauge, kRoles> buffered_bytes;      // tunnels' buffers (limits.buffer_memory)
  std::array<Counter, kRoles> budget_deferrals;  // tunnels that stopped reading for the budget
  std::array<Counter, kRoles> bytes_in;   // read from sockets we relay (local side)
  std::array<Counter, kRoles> bytes_out;  // written to them
  Counter handoffs;  // gateway connections this worker accepted and gave to another
  LayerStats layers;  // what the layers above count with their own outcome enums

 private:
  static Histogram make_frame_histogram() {
    return Histogram{1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777215};
  }
  static Histogram make_streams_histogram() { return Histogram{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}; }
  static Histogram make_queue_histogram() {
    return Histogram{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
  }
  static Histogram make_latency_histogram() {
    return Histogram{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  }

  mutable std::mutex istio_mutex_;  // guards both maps
  std::map<IstioLabels, IstioTcp> istio_;
  std::map<std::pair<std::string, bool>, Counter, std::less<>> policy_decisions_;
};

}  // namespace hbone::metrics
