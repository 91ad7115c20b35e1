#include <sys/un.h>

#include <cstdlib>

#include "config/config.h"

namespace hbone::config {

std::string workload_api_socket(const IdentityConfig& identity, std::string& why) {
  std::string where = identity.spiffe_socket;
  std::string source = "identity.spiffe_socket";
  if (where.empty()) {
    const char* env = std::getenv("SPIFFE_ENDPOINT_SOCKET");
    where = env ? env : "";
    source = "SPIFFE_ENDPOINT_SOCKET";
  }
  if (where.empty()) {
    why = "no Workload API socket: set identity.spiffe_socket or SPIFFE_ENDPOINT_SOCKET";
    return "";
  }
  // The SPIFFE Workload Endpoint standard's forms: unix:///path (unix:/path alike); tcp:// is
  // not served here (an agent on the same host listens on a unix socket).
  std::string path = where;
  if (path.starts_with("unix://")) {
    path.erase(0, 7);
  } else if (path.starts_with("unix:")) {
    path.erase(0, 5);
  } else if (path.find("://") != std::string::npos) {
    why = source + " \"" + where + "\": only a unix socket (a path or unix:///path) is supported";
    return "";
  }
  if (!path.starts_with("/")) {
    why = source + " \"" + where + "\": not an absolute path";
    return "";
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    why = source + " \"" + where + "\": longer than a unix socket's name may be (" +
          std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)";
    return "";
  }
  return path;
}

}  // namespace hbone::config
