#pragma once

#include <optional>
#include <string_view>

namespace hbone::policy {

// Istio writes principals without the scheme ("cluster.local/ns/default/sa/sleep"); both
// spellings name the same identity.
std::string_view without_scheme(std::string_view id);

// The parts of an Istio workload identity, "<td>/ns/<namespace>/sa/<account>" exactly (four
// non-empty segments after the trust domain, with or without the scheme); nullopt for any
// other path ("<td>/sa/x/ns/payments" is in no namespace).
struct WorkloadIdentity {
  std::string_view trust_domain;
  std::string_view namespace_name;
  std::string_view service_account;
};
std::optional<WorkloadIdentity> workload_identity(std::string_view principal);

}  // namespace hbone::policy
