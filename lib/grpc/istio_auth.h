#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hbone::grpc {

// What istiod authenticates a node proxy's call by, as ztunnel sends it
// (src/identity/auth.rs): "authorization: Bearer <token>", the token read from
// `token_file` now (a projected token rotates: read it for each call), and "clusterid".
// nullopt, with `why` naming the file, when the token cannot be read or is empty.
std::optional<std::vector<std::pair<std::string, std::string>>> istio_auth_metadata(const std::string& token_file,
                                                                                     const std::string& cluster_id,
                                                                                     std::string& why);

}  // namespace hbone::grpc
