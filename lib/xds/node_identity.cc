#include "xds/node_identity.h"

#include <cstdlib>
#include <string_view>

extern char** environ;

namespace hbone::xds {
namespace {

constexpr std::string_view kMetaPrefix = "ISTIO_META_";

}  // namespace

NodeIdentity NodeIdentity::from_environment(const std::function<const char*(const char*)>& getenv,
                                            char** environment) {
  NodeIdentity id;
  auto read = [&](const char* name, std::string& out) {
    if (const char* value = getenv(name); value && *value) out = value;
  };
  read("INSTANCE_IP", id.ip);
  read("POD_NAME", id.pod_name);
  read("POD_NAMESPACE", id.pod_namespace);
  read("NODE_NAME", id.node_name);
  for (char** entry = environment ? environment : environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    size_t equals = text.find('=');
    if (!text.starts_with(kMetaPrefix) || equals == std::string_view::npos) continue;
    id.metadata[std::string(text.substr(kMetaPrefix.size(), equals - kMetaPrefix.size()))] =
        std::string(text.substr(equals + 1));
  }
  return id;
}

envoy::config::core::v3::Node NodeIdentity::node() const {
  envoy::config::core::v3::Node node;
  node.set_id("ztunnel~" + ip + "~" + pod_name + "." + pod_namespace + "~" + pod_namespace + ".svc.cluster.local");
  auto& fields = *node.mutable_metadata()->mutable_fields();
  fields["NAME"].set_string_value(pod_name);
  fields["NAMESPACE"].set_string_value(pod_namespace);
  fields["INSTANCE_IPS"].set_string_value(ip);
  fields["NODE_NAME"].set_string_value(node_name);
  if (!cluster_id.empty()) fields["CLUSTER_ID"].set_string_value(cluster_id);
  // Set last, as ztunnel appends them: an ISTIO_META_ variable overrides the others.
  for (const auto& [key, value] : metadata) fields[key].set_string_value(value);
  return node;
}

}  // namespace hbone::xds
