#include "identity/spiffe_id.h"

#include <algorithm>

namespace hbone::identity {
namespace {

constexpr std::string_view kScheme = "spiffe://";

bool path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '-' || c == '_';
}

}  // namespace

bool SpiffeId::valid_trust_domain(std::string_view td) {
  if (td.empty() || td.size() > 255) return false;
  return std::all_of(td.begin(), td.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
  });
}

std::optional<SpiffeId> SpiffeId::parse(std::string_view uri) {
  if (uri.size() > 2048 || !uri.starts_with(kScheme)) return std::nullopt;
  std::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view td = rest.substr(0, slash);
  if (!valid_trust_domain(td)) return std::nullopt;
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  // Workload ids need a path; "/" alone or trailing "/" leave an empty segment.
  if (path.empty()) return std::nullopt;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos + 1);
    std::string_view segment = path.substr(pos + 1, next == std::string_view::npos
                                                        ? std::string_view::npos
                                                        : next - pos - 1);
    if (segment.empty() || segment == "." || segment == "..") return std::nullopt;
    if (!std::all_of(segment.begin(), segment.end(), path_char)) return std::nullopt;
    if (next == std::string_view::npos) break;
    pos = next;
  }
  return SpiffeId{std::string(td), std::string(path)};
}

}  // namespace hbone::identity
