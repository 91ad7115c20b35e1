#pragma once

#include <stdexcept>
#include <string>
#include <variant>

#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"
#include "mesh/workload.h"
#include "policy/rbac.h"

namespace hbone::xds {

// A resource hbone cannot use as sent; what() is the reason its NACK gives.
class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// istio.workload.Address in hbone's terms, checked: addresses of 4 or 16 bytes, ports that
// are ports, a service named by namespace and hostname, a gateway that says where it is.
// Throws ResourceError.
std::variant<mesh::Workload, mesh::Service> to_mesh(const istio::workload::Address& address);

// istio.security.Authorization in hbone's terms, checked the same way. Throws ResourceError.
policy::rbac::Policy to_policy(const istio::security::Authorization& authorization);

}  // namespace hbone::xds
