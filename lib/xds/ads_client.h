#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "util/backoff.h"
#include "grpc/channel.h"
#include "metrics/family.h"
#include "net/timer.h"
#include "worker/context.h"
#include "xds/node_identity.h"

namespace hbone::xds {

// The resource types istiod serves a ztunnel, and Envoy's aggregated delta method
// (type URLs from ztunnel's src/xds.rs; the path from Envoy's
// envoy/service/discovery/v3/ads.proto: AggregatedDiscoveryService.DeltaAggregatedResources).
inline constexpr const char* kAddressType = "type.googleapis.com/istio.workload.Address";
inline constexpr const char* kAuthorizationType = "type.googleapis.com/istio.security.Authorization";
inline constexpr const char* kDeltaAdsPath =
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

// A resource of a response that was not taken, and why: the NACK's error_detail names each.
struct Rejected {
  std::string name;
  std::string reason;
};

// One delta-ADS stream to istiod, as ztunnel runs it (src/xds/client.rs): on each connect
// one request per subscribed type carrying the node and, after the first connect, the
// versions of every resource taken so far (initial_resource_versions: istiod then sends
// only what changed, and the removals); each response applied by its type's handler and
// answered with its nonce: an ACK, or a NACK whose error_detail lists the resources
// rejected. What was taken stays in force while the stream is down; the client reconnects
// after a jittered back-off, reading the token file again. On the control-plane thread.
class AdsClient {
 public:
  using DeltaResponse = envoy::service::discovery::v3::DeltaDiscoveryResponse;
  // Applies a response: the resources it could not take (the others are in force). Throws
  // when it took none of it (the last good state stays): the response is NACKed whole.
  using Apply = std::function<std::vector<Rejected>(const DeltaResponse&)>;
  struct Subscription {
    std::string type_url;
    Apply apply;
  };
  struct Options {
    grpc::ChannelOptions channel;
    std::string token_file;  // "": no token
    std::string cluster_id;
    NodeIdentity node;
    util::Backoff::Policy backoff{};
  };

  AdsClient(worker::Context& context, Options options, std::vector<Subscription> subscriptions);
  ~AdsClient();
  AdsClient(const AdsClient&) = delete;
  AdsClient& operator=(const AdsClient&) = delete;

  void start();

  // Any thread: the stream is up; every type had a response ACKed since the start.
  bool connected() const { return connected_.load(); }
  bool synced() const;
  // Any thread: the stream's state by type (nonce, versions, ACKs, NACKs, last error).
  nlohmann::json status() const;
  // Any thread: hbone_xds_connected, hbone_xds_pushes_total, hbone_xds_resources.
  void collect(metrics::Families& out) const;

 private:
  // What became of one type's pushes.
  struct TypeState {
    std::string type_url;
    Apply apply;
    std::map<std::string, std::string> versions;  // resources taken, by name (main thread)
    // Under status_mutex_:
    std::string nonce;
    std::string system_version;
    std::string last_error;
    uint64_t acks = 0;
    uint64_t nacks = 0;
    size_t resources = 0;
    bool acked = false;
  };

  void connect();
  void retry_later(const std::string& why);
  void on_message(std::string&& bytes);
  void on_close(const grpc::Status& status);
  void respond(TypeState& type, const DeltaResponse& response, const std::vector<Rejected>& rejected,
               const std::optional<std::string>& whole);

  worker::Context& context_;
  Options options_;
  envoy::config::core::v3::Node node_;
  grpc::Channel channel_;
  util::Backoff backoff_;
  net::Timer reconnect_;
  std::vector<std::unique_ptr<TypeState>> types_;
  grpc::Call* call_ = nullptr;
  uint64_t responses_on_stream_ = 0;
  std::atomic<bool> connected_{false};
  mutable std::mutex status_mutex_;
  uint64_t connects_ = 0;  // streams started (under status_mutex_)
};

}  // namespace hbone::xds
