#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace hbone::log {

// log.format: json. Every line one JSON object: {"time", "level", "thread", "msg"}; what the
// logger named kAccessLogger writes is already the body of an object (its fields, escaped),
// which becomes {"time", "level", "thread", "type": "access", <fields>}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

inline constexpr const char* kAccessLogger = "access";

// Sets up logging as log.format says: the default logger and the access logger on one sink;
// `json` makes every line a JSON object. Called once, at startup.
void configure(bool json);
// Whether lines are JSON objects (what the access log writes depends on it).
bool json();

// `value` as the inside of a JSON string.
void append_json_escaped(spdlog::memory_buf_t& dest, std::string_view value);

}  // namespace hbone::log
