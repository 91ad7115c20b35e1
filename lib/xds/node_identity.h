#pragma once

#include <functional>
#include <map>
#include <string>

#include "envoy/config/core/v3/base.pb.h"

namespace hbone::xds {

// Who this proxy is to istiod, taken as ztunnel takes it (src/xds/client.rs, node()): from
// the environment a DaemonSet sets by the downward API. istiod serves a node whose id
// starts with "ztunnel~" the workload and authorization resources of ambient mode.
struct NodeIdentity {
  std::string ip = "1.1.1.1";  // INSTANCE_IP (ztunnel's default when unset)
  std::string pod_name;        // POD_NAME
  std::string pod_namespace;   // POD_NAMESPACE
  std::string node_name;       // NODE_NAME
  std::string cluster_id;      // xds.cluster_id: the CLUSTER_ID istiod files the node under
  // ISTIO_META_<KEY>=value, as <KEY> (ztunnel's proxy metadata).
  std::map<std::string, std::string> metadata;

  // Reads the variables through `getenv` (the process's environment by default).
  static NodeIdentity from_environment(const std::function<const char*(const char*)>& getenv = ::getenv,
                                       char** environment = nullptr);

  // ztunnel~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local, with metadata NAME,
  // NAMESPACE, INSTANCE_IPS, NODE_NAME, CLUSTER_ID and the ISTIO_META_ ones.
  envoy::config::core::v3::Node node() const;
};

}  // namespace hbone::xds
