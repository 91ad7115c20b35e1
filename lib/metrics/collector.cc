#include "metrics/collector.h"

#include <chrono>

#include <map>
#include <string>
#include <string_view>

namespace hbone::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr const char* kFrameTypeNames[WorkerMetrics::kFrameTypes] = {
    "DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
    "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"};

// Builds one family at the end of `out`. Held by index, not reference: two builders may be
// alive at once, and the second one's emplace_back can move the first one's family (found
// by ASan once the family count crossed a capacity step).
class FamilyBuilder {
 public:
  FamilyBuilder(std::vector<MetricFamily>& out, std::string name, std::string help, MetricType type)
      : out_(out), index_(out.size()) {
    MetricFamily& family = out.emplace_back();
    family.name = std::move(name);
    family.help = std::move(help);
    family.type = type;
  }
  void value(Labels labels, double v) {
    ClientMetric& m = family().metric.emplace_back();
    m.label = std::move(labels);
    if (family().type == MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
  }
  // Sums per-worker histograms with the same bounds.
  void histogram(Labels labels, const std::vector<const Histogram*>& parts) {
    ClientMetric& m = family().metric.emplace_back();
    m.label = std::move(labels);
    const auto& bounds = parts.front()->bounds();
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds.size(); ++i) {
      for (const Histogram* h : parts) cumulative += h->count(i);
      if (i < bounds.size()) {
        m.histogram.bucket.push_back({cumulative, bounds[i]});
      }
    }
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    for (const Histogram* h : parts) m.histogram.sample_sum += h->sum();
  }

 private:
  MetricFamily& family() { return out_[index_]; }
  std::vector<MetricFamily>& out_;
  size_t index_;
};

template <typename F>
double sum(const std::vector<const WorkerMetrics*>& workers, F&& field) {
  double total = 0;
  for (const WorkerMetrics* w : workers) total += static_cast<double>(field(*w));
  return total;
}

// A family with one sample per role: `member`, an array of counters or gauges by role,
// summed over the workers.
template <typename T>
void per_role(std::vector<MetricFamily>& out, const char* name, const char* help, MetricType type,
              const std::vector<const WorkerMetrics*>& workers, const std::array<T, kRoles> WorkerMetrics::*member) {
  FamilyBuilder f(out, name, help, type);
  for (int r = 0; r < kRoles; ++r) {
    f.value({{"role", role_name(r)}}, sum(workers, [&](const WorkerMetrics& w) { return (w.*member)[r].value(); }));
  }
}

// A counter family with one sample per value of `E` but `none` (labelled `label_name`):
// `member`, counters by E, summed over the workers.
template <typename E>
void by_label(std::vector<MetricFamily>& out, const char* name, const char* help, const char* label_name,
              const std::vector<const WorkerMetrics*>& workers, const ByEnum<E, Counter> WorkerMetrics::*member) {
  FamilyBuilder f(out, name, help, MetricType::Counter);
  ByEnum<E, Counter>::for_each([&](E e) {
    if (std::string_view(label(e)) == "none") return;
    f.value({{label_name, label(e)}}, sum(workers, [&](const WorkerMetrics& w) { return (w.*member)[e].value(); }));
  });
}

void istio_families(std::vector<MetricFamily>& out, const std::vector<const WorkerMetrics*>& workers) {
  struct Totals {
    uint64_t opened = 0, closed = 0, failed = 0, sent = 0, received = 0;
  };
  std::map<IstioLabels, Totals> totals;
  for (const WorkerMetrics* w : workers) {
    w->for_each_istio([&](const IstioLabels& labels, const IstioTcp& c) {
      Totals& t = totals[labels];
      t.opened += c.opened.value();
      t.closed += c.closed.value();
      t.failed += c.failed.value();
      t.sent += c.sent_bytes.value();
      t.received += c.received_bytes.value();
    });
  }
  struct Spec {
    const char* name;
    const char* help;
    uint64_t Totals::*field;
  };
  for (Spec spec : {Spec{"istio_tcp_connections_opened_total", "TCP connections opened", &Totals::opened},
                    {"istio_tcp_connections_closed_total", "TCP connections closed", &Totals::closed},
                    {"istio_tcp_connections_failed_total", "TCP connections that failed to open", &Totals::failed},
                    {"istio_tcp_sent_bytes_total", "Bytes sent to the downstream (response direction)", &Totals::sent},
                    {"istio_tcp_received_bytes_total", "Bytes received from the downstream (request direction)", &Totals::received}}) {
    FamilyBuilder f(out, spec.name, spec.help, MetricType::Counter);
    for (const auto& [labels, t] : totals) {
      f.value({{"reporter", labels.role == kClient ? "source" : "destination"},
               {"source_principal", labels.source_principal},
               {"destination_principal", labels.destination_principal},
               {"response_flags", labels.response_flags}},
              static_cast<double>(t.*spec.field));
    }
  }
}

void policy_families(std::vector<MetricFamily>& out, const std::vector<const WorkerMetrics*>& workers) {
  std::map<std::pair<std::string, bool>, uint64_t> totals;
  for (const WorkerMetrics* w : workers) {
    w->for_each_policy_decision([&](const std::string& policy, bool allowed, const Counter& c) {
      totals[{policy, allowed}] += c.value();
    });
  }
  FamilyBuilder f(out, "hbone_policy_decisions_total",
                  "gateway.policies decisions on CONNECTs, by the policy that decided (none-matched: ALLOW "
                  "policies exist and none matched) and action",
                  MetricType::Counter);
  for (const auto& [key, value] : totals) {
    f.value({{"policy", key.first}, {"action", key.second ? "allow" : "deny"}}, static_cast<double>(value));
  }
  FamilyBuilder resets(out, "hbone_policy_tunnels_reset_total",
                       "Open tunnels reset because a reloaded policy no longer allows them", MetricType::Counter);
  resets.value({}, sum(workers, [](const WorkerMetrics& w) { return w.policy_resets.value(); }));
}

}  // namespace

std::vector<MetricFamily> collect(const std::vector<const WorkerMetrics*>& workers,
                                  const ProcessMetrics& process) {
  std::vector<MetricFamily> out;
  istio_families(out, workers);
  policy_families(out, workers);
  {
    FamilyBuilder f(out, "hbone_config_reloads_total",
                    "Reloads of certificates and allow-lists (SIGHUP, or tls.watch seeing the files change), "
                    "by result", MetricType::Counter);
    f.value({{"result", "ok"}}, static_cast<double>(process.reloads_ok.value()));
    f.value({{"result", "error"}}, static_cast<double>(process.reloads_failed.value()));
  }
  if (process.own_certificate_expiry.load() != 0) {
    FamilyBuilder f(out, "hbone_certificate_expiry_seconds",
                    "Seconds until our certificate (role=own) and the soonest CA of the trust bundle (role=ca) "
                    "expire; negative once expired",
                    MetricType::Gauge);
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    f.value({{"role", "own"}}, static_cast<double>(process.own_certificate_expiry.load() - now));
    f.value({{"role", "ca"}}, static_cast<double>(process.ca_certificate_expiry.load() - now));
  }
  if (process.heap_known) {
    for (auto [name, help, gauge] :
         {std::tuple{"hbone_heap_allocated_bytes", "Heap bytes in use (tcmalloc)", &process.heap_allocated},
          {"hbone_heap_free_bytes", "Free heap bytes tcmalloc still holds (part of RSS)", &process.heap_free}}) {
      FamilyBuilder f(out, name, help, MetricType::Gauge);
      f.value({}, static_cast<double>(gauge->value()));
    }
  }
  if (process.heap_released_known) {
    FamilyBuilder f(out, "hbone_heap_released_bytes_total", "Free heap returned to the OS",
                    MetricType::Counter);
    f.value({}, static_cast<double>(process.heap_released.value()));
  }
  const auto& W = workers;
  per_role(out, "hbone_tunnels_active",
           "Open tunnels", MetricType::Gauge, W,
           &WorkerMetrics::tunnels_active);
  per_role(out, "hbone_h2_connections_active",
           "Open HTTP/2 connections (pooled, on the client)", MetricType::Gauge, W,
           &WorkerMetrics::connections_active);
  per_role(out, "hbone_h2_streams_refused_total",
           "Streams refused with REFUSED_STREAM (over max_concurrent_streams)", MetricType::Counter, W,
           &WorkerMetrics::streams_refused);
  for (auto [name, help, sent] : {std::tuple{"hbone_h2_frames_sent_total", "HTTP/2 frames sent", true},
                                  {"hbone_h2_frames_received_total", "HTTP/2 frames received", false}}) {
    FamilyBuilder f(out, name, help, MetricType::Counter);
    const auto field = sent ? &WorkerMetrics::frames_sent : &WorkerMetrics::frames_received;
    for (int r = 0; r < kRoles; ++r) {
      for (size_t t = 0; t < WorkerMetrics::kFrameTypes; ++t) {
        f.value({{"role", role_name(r)}, {"type", kFrameTypeNames[t]}}, sum(W, [&](auto& w) {
                  return (w.*field)[r][t].value();
                }));
      }
    }
  }
  for (auto [name, help, field] :
       {std::tuple{"hbone_h2_data_frame_bytes", "Payload size of DATA frames sent", &WorkerMetrics::data_frame_bytes},
        {"hbone_h2_streams_per_connection", "Streams open on a connection when a stream opens",
         &WorkerMetrics::streams_per_connection},
        {"hbone_tunnel_setup_seconds", "Tunnel setup latency: accept (client) or request (gateway) to 200",
         &WorkerMetrics::setup_seconds},
        {"hbone_h2_send_queue_seconds",
         "How long a stream's first queued byte waited, from its local read until written to the HBONE socket",
         &WorkerMetrics::send_queue_seconds}}) {
    FamilyBuilder f(out, name, help, MetricType::Histogram);
    for (int r = 0; r < kRoles; ++r) {
      std::vector<const Histogram*> parts;
      for (const WorkerMetrics* w : W) parts.push_back(&(w->*field)[r]);
      f.histogram({{"role", role_name(r)}}, parts);
    }
  }
  {
    FamilyBuilder stalls(out, "hbone_flow_control_stalls_total",
                         "Times a tunnel had data to send but no HTTP/2 send window (raise the window)",
                         MetricType::Counter);
    FamilyBuilder seconds(out, "hbone_flow_control_stall_seconds_total",
                          "Time tunnels spent with data to send but no send window", MetricType::Counter);
    for (int r = 0; r < kRoles; ++r) {
      ByEnum<StallScope, Counter>::for_each([&](StallScope s) {
        Labels labels{{"role", role_name(r)}, {"scope", label(s)}};
        stalls.value(labels, sum(W, [&](auto& w) { return w.stalls[r][s].value(); }));
        seconds.value(labels, sum(W, [&](auto& w) { return w.stall_micros[r][s].value(); }) / 1e6);
      });
    }
  }
  {
    FamilyBuilder f(out, "hbone_tls_handshakes_total", "TLS handshakes and peer checks by result",
                    MetricType::Counter);
    for (int r = 0; r < kRoles; ++r) {
      ByEnum<TlsResult, Counter>::for_each([&](TlsResult t) {
        f.value({{"role", role_name(r)}, {"result", label(t)}},
                sum(W, [&](auto& w) { return w.tls_handshakes[r][t].value(); }));
      });
    }
  }
  by_label<ConnectFailure>(out, "hbone_upstream_connect_failures_total",
              "Gateway dials that failed, by cause",
              "cause", W, &WorkerMetrics::upstream_connect_failures);
  by_label<AcceptFailure>(out, "hbone_accept_errors_total",
              "accept() failures on hbone's listeners (out of descriptors or memory); each pauses that "
              "listener briefly instead of spinning on it",
              "reason", W, &WorkerMetrics::accept_errors);
  by_label<DestinationRefusal>(out, "hbone_gateway_destinations_refused_total",
              "CONNECT targets the gateway refused to dial: hbone's own listeners, reserved addresses "
              "(loopback, link-local, unspecified, metadata) or the host's own not named in allowed_destinations, "
              "others not allowed, or not the address the connection arrived on",
              "reason", W, &WorkerMetrics::destinations_refused);
  by_label<ForwardedIgnored>(out, "hbone_gateway_forwarded_ignored_total",
              "CONNECTs whose Forwarded header was not passed on as the PROXY v2 source (the peer's own "
              "address was): from a peer not in gateway.trusted_forwarders, or not an RFC 7239 address",
              "reason", W, &WorkerMetrics::forwarded_ignored);
  {
    FamilyBuilder f(out, "hbone_tunnel_limit_rejections_total",
                    "Tunnels refused by limits.max_tunnels or limits.max_tunnels_per_identity",
                    MetricType::Counter);
    for (int r = 0; r < kRoles; ++r) {
      ByEnum<LimitRefusal, Counter>::for_each([&](LimitRefusal l) {
        if (l == LimitRefusal::none) return;
        f.value({{"role", role_name(r)}, {"limit", label(l)}},
                sum(W, [&](auto& w) { return w.limit_rejections[r][l].value(); }));
      });
    }
  }
  by_label<CaptureOutcome>(out, "hbone_capture_connections_total",
              "Captured connections (client.capture) by outcome: tunnel, direct, unrouted (no route: "
              "reset), loop (hbone's own connection captured: reset), no_destination, limited",
              "outcome", W, &WorkerMetrics::captured);
  {
    FamilyBuilder f(out, "hbone_capture_unrouted_total",
                    "Captured connections no client.routes entry matched (reset, never sent in the clear)",
                    MetricType::Counter);
    f.value({}, sum(W, [](auto& w) { return w.captured[CaptureOutcome::unrouted].value(); }));
  }
  per_role(out, "hbone_h2_keepalive_timeouts_total",
           "HBONE connections closed because a PING went unanswered for http2.keepalive_timeout (a "
          "peer or the path to it is gone); their tunnels are reset", MetricType::Counter, W,
           &WorkerMetrics::keepalive_timeouts);
  per_role(out, "hbone_buffered_bytes",
           "Bytes the tunnels' buffers hold (allocated): local reads not yet sent, peer bytes not yet "
           "written; limits.buffer_memory bounds their sum", MetricType::Gauge, W,
           &WorkerMetrics::buffered_bytes);
  per_role(out, "hbone_buffer_budget_deferrals_total",
           "Times a tunnel holding bytes stopped reading because limits.buffer_memory was reached",
           MetricType::Counter, W, &WorkerMetrics::budget_deferrals);
  if (process.buffer_budget) {
    FamilyBuilder f(out, "hbone_buffer_budget_bytes", "limits.buffer_memory", MetricType::Gauge);
    f.value({}, static_cast<double>(process.buffer_budget));
  }
  per_role(out, "hbone_tunnel_idle_timeouts_total",
           "Tunnels closed after limits.idle_timeout without a byte either way", MetricType::Counter, W,
           &WorkerMetrics::idle_timeouts);
  {
    FamilyBuilder f(out, "hbone_worker_bytes_total", "Bytes relayed on the local sockets, per worker",
                    MetricType::Counter);
    for (size_t i = 0; i < W.size(); ++i) {
      for (int r = 0; r < kRoles; ++r) {
        std::string worker = std::to_string(i);
        f.value({{"worker", worker}, {"role", role_name(r)}, {"direction", "in"}},
                static_cast<double>(W[i]->bytes_in[r].value()));
        f.value({{"worker", worker}, {"role", role_name(r)}, {"direction", "out"}},
                static_cast<double>(W[i]->bytes_out[r].value()));
      }
    }
  }
  {
    FamilyBuilder f(out, "hbone_worker_handoffs_total",
                    "Gateway connections this worker accepted and handed to a less loaded worker "
                    "(gateway.balance: exact)",
                    MetricType::Counter);
    for (size_t i = 0; i < W.size(); ++i) {
      f.value({{"worker", std::to_string(i)}}, static_cast<double>(W[i]->handoffs.value()));
    }
  }
  return out;
}

}  // namespace hbone::metrics
