#include "config/units.h"

#include <charconv>
#include <limits>

namespace hbone::config {
namespace {

struct Unit {
  std::string_view suffix;
  uint64_t factor;
};

// Split "123abc" into the number and the suffix; nullopt when there are no digits or
// the number overflows.
std::optional<std::pair<uint64_t, std::string_view>> split_number(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return std::pair{value, text.substr(static_cast<size_t>(end - text.data()))};
}

std::optional<uint64_t> scale(std::string_view text, std::initializer_list<Unit> units,
                              bool allow_bare) {
  auto split = split_number(text);
  if (!split) return std::nullopt;
  auto [value, suffix] = *split;
  if (suffix.empty()) {
    if (!allow_bare) return std::nullopt;
    return value;
  }
  for (const Unit& unit : units) {
    if (suffix != unit.suffix) continue;
    if (value > std::numeric_limits<uint64_t>::max() / unit.factor) return std::nullopt;
    return value * unit.factor;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_size(std::string_view text) {
  return scale(text, {{"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}},
               /*allow_bare=*/true);
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto ms = scale(text, {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}},
                  /*allow_bare=*/false);
  if (!ms || *ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(*ms));
}

std::string format_size(uint64_t bytes) {
  static constexpr Unit kUnits[] = {{"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const Unit& unit : kUnits) {
    if (bytes != 0 && bytes % unit.factor == 0) {
      return std::to_string(bytes / unit.factor) + std::string(unit.suffix);
    }
  }
  return std::to_string(bytes) + "B";
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace hbone::config
