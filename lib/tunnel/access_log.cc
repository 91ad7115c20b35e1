#include "tunnel/access_log.h"

#include <spdlog/spdlog.h>

#include "log/json_formatter.h"

namespace hbone::tunnel {
namespace {

void text_field(spdlog::memory_buf_t& out, std::string_view name, std::string_view value, bool quoted) {
  out.push_back(' ');
  out.append(name.data(), name.data() + name.size());
  out.push_back('=');
  if (quoted) out.push_back('"');
  out.append(value.data(), value.data() + value.size());
  if (quoted) out.push_back('"');
}

void json_field(spdlog::memory_buf_t& out, std::string_view name, std::string_view value) {
  if (out.size() > 0) out.push_back(',');
  out.push_back('"');
  out.append(name.data(), name.data() + name.size());
  out.append(std::string_view("\":\""));
  log::append_json_escaped(out, value);
  out.push_back('"');
}

void json_number(spdlog::memory_buf_t& out, std::string_view name, int64_t value) {
  out.push_back(',');
  out.push_back('"');
  out.append(name.data(), name.data() + name.size());
  out.append(std::string_view("\":"));
  std::string digits = std::to_string(value);
  out.append(digits.data(), digits.data() + digits.size());
}

// Envoy's access logs write "-" for a field that has no value: every field stays one token.
std::string_view or_dash(std::string_view value) { return value.empty() ? "-" : value; }

}  // namespace

void write_access_log(const AccessRecord& r) {
  auto logger = spdlog::get(log::kAccessLogger);
  if (!logger) logger = spdlog::default_logger();  // unit tests, tools: no access logger set up
  if (!logger->should_log(spdlog::level::info)) return;
  spdlog::memory_buf_t out;
  if (log::json()) {
    json_field(out, "role", r.role);
    json_field(out, "src", or_dash(r.source));
    json_field(out, "peer", or_dash(r.peer));
    json_field(out, "dst", or_dash(r.target));
    if (!r.route.empty()) json_field(out, "route", r.route);
    if (!r.trace_id.empty()) json_field(out, "trace_id", r.trace_id);
    json_number(out, "status", r.status);
    json_field(out, "flags", or_dash(r.flags));
    if (!r.policy.empty()) json_field(out, "policy", r.policy);
    if (!r.reason.empty()) json_field(out, "reason", r.reason);
    json_number(out, "sent", static_cast<int64_t>(r.sent));
    json_number(out, "received", static_cast<int64_t>(r.received));
    json_number(out, "duration_ms", r.duration_ms);
    json_field(out, "close", r.close);
  } else {
    static constexpr std::string_view kTunnel = "tunnel";
    out.append(kTunnel.data(), kTunnel.data() + kTunnel.size());
    text_field(out, "role", r.role, false);
    text_field(out, "src", or_dash(r.source), false);
    text_field(out, "peer", or_dash(r.peer), false);
    text_field(out, "dst", or_dash(r.target), false);
    if (!r.route.empty()) text_field(out, "route", r.route, true);
    if (!r.trace_id.empty()) text_field(out, "trace_id", r.trace_id, false);
    text_field(out, "status", std::to_string(r.status), false);
    text_field(out, "flags", or_dash(r.flags), false);
    if (!r.policy.empty()) text_field(out, "policy", r.policy, false);
    if (!r.reason.empty()) text_field(out, "reason", r.reason, true);
    text_field(out, "sent", std::to_string(r.sent), false);
    text_field(out, "received", std::to_string(r.received), false);
    text_field(out, "duration", std::to_string(r.duration_ms) + "ms", false);
    text_field(out, "close", r.close, true);
  }
  logger->info(std::string_view(out.data(), out.size()));
}

}  // namespace hbone::tunnel
