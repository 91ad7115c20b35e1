#include "metrics/collector.h"

#include <chrono>
#include <map>
#include <string>

#include "metrics/family.h"

namespace hbone::metrics {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr const char* kFrameTypeNames[WorkerMetrics::kFrameTypes] = {
    "DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
    "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"};

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
  by_label<net::DialFailure>(out, "hbone_upstream_connect_failures_total",
              "Gateway dials that failed, by cause",
              "cause", W, &WorkerMetrics::upstream_connect_failures);
  by_label<net::AcceptFailure>(out, "hbone_accept_errors_total",
              "accept() failures on hbone's listeners (out of descriptors or memory); each pauses that "
              "listener briefly instead of spinning on it",
              "reason", W, &WorkerMetrics::accept_errors);
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
