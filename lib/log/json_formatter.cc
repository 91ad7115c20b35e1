#include "log/json_formatter.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace hbone::log {
namespace {

std::atomic<bool> json_lines{false};

void append(spdlog::memory_buf_t& dest, std::string_view text) { dest.append(text.data(), text.data() + text.size()); }

}  // namespace

void append_json_escaped(spdlog::memory_buf_t& dest, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      dest.push_back('\\');
      dest.push_back(c);
    } else if (byte < 0x20 || byte >= 0x7f) {
      // Bytes, not code points: what a peer sent may not be UTF-8, and the line must parse.
      append(dest, "\\u00");
      dest.push_back(kHex[byte >> 4]);
      dest.push_back(kHex[byte & 0xf]);
    } else {
      dest.push_back(c);
    }
  }
}

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  auto since_epoch = msg.time.time_since_epoch();
  std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char time[40];
  size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(time + n, sizeof time - n, ".%03lldZ", static_cast<long long>(millis));
  append(dest, "{\"time\":\"");
  append(dest, time);
  append(dest, "\",\"level\":\"");
  auto level = spdlog::level::to_string_view(msg.level);
  append(dest, {level.data(), level.size()});
  append(dest, "\",\"thread\":");
  append(dest, std::to_string(msg.thread_id));
  std::string_view payload(msg.payload.data(), msg.payload.size());
  if (std::string_view(msg.logger_name.data(), msg.logger_name.size()) == kAccessLogger) {
    append(dest, ",\"type\":\"access\",");
    append(dest, payload);
  } else {
    append(dest, ",\"msg\":\"");
    append_json_escaped(dest, payload);
    dest.push_back('"');
  }
  append(dest, "}\n");
}

void configure(bool as_json) {
  auto main = spdlog::default_logger();
  auto access = std::make_shared<spdlog::logger>(kAccessLogger, main->sinks().begin(), main->sinks().end());
  spdlog::register_logger(access);
  json_lines = as_json;
  if (as_json) spdlog::set_formatter(std::make_unique<JsonFormatter>());
}

bool json() { return json_lines; }

}  // namespace hbone::log
