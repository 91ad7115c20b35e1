#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hbone::config {

// "4MiB", "64KiB", "512B", "1GiB" or a bare byte count. nullopt on anything else.
std::optional<uint64_t> parse_size(std::string_view text);

// "10s", "250ms", "2m". nullopt on anything else (a bare number is ambiguous, so rejected).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The inverse, for /config_dump and messages: the largest exact unit.
std::string format_size(uint64_t bytes);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace hbone::config
