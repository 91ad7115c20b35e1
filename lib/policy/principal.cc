#include "policy/principal.h"

#include <array>

namespace hbone::policy {

std::string_view without_scheme(std::string_view id) {
  constexpr std::string_view kScheme = "spiffe://";
  return id.starts_with(kScheme) ? id.substr(kScheme.size()) : id;
}

std::optional<WorkloadIdentity> workload_identity(std::string_view principal) {
  principal = without_scheme(principal);
  std::array<std::string_view, 5> parts;  // td, "ns", namespace, "sa", account
  for (size_t i = 0; i < parts.size(); ++i) {
    size_t slash = principal.find('/');
    bool last = i + 1 == parts.size();
    if ((slash == std::string_view::npos) != last) return std::nullopt;  // fewer or more segments
    parts[i] = principal.substr(0, slash);
    if (parts[i].empty()) return std::nullopt;
    if (!last) principal.remove_prefix(slash + 1);
  }
  if (parts[1] != "ns" || parts[3] != "sa") return std::nullopt;
  return WorkloadIdentity{parts[0], parts[2], parts[4]};
}

}  // namespace hbone::policy
