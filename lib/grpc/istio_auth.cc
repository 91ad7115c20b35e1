#include "grpc/istio_auth.h"

#include "util/file.h"

namespace hbone::grpc {

std::optional<std::vector<std::pair<std::string, std::string>>> istio_auth_metadata(const std::string& token_file,
                                                                                     const std::string& cluster_id,
                                                                                     std::string& why) {
  std::vector<std::pair<std::string, std::string>> metadata;
  if (!token_file.empty()) {
    std::optional<std::string> read = util::read_file(token_file);
    if (!read) {
      why = "xds.token_file: cannot read \"" + token_file + "\"";
      return std::nullopt;
    }
    const std::string& token = *read;
    size_t begin = token.find_first_not_of(" \t\r\n"), end = token.find_last_not_of(" \t\r\n");
    if (begin == std::string::npos) {
      why = "xds.token_file: \"" + token_file + "\" is empty";
      return std::nullopt;
    }
    metadata.emplace_back("authorization", "Bearer " + token.substr(begin, end - begin + 1));
  }
  if (!cluster_id.empty()) metadata.emplace_back("clusterid", cluster_id);
  return metadata;
}

}  // namespace hbone::grpc
