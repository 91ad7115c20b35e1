#pragma once

#include <atomic>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "ca/ca_client.h"
#include "grpc/channel.h"
#include "net/timer.h"
#include "tls/certificate_info.h"
#include "tls/tls_context.h"
#include "util/backoff.h"

namespace hbone::ca {

// The SPIFFE Workload API's X.509-SVID stream (the SPIFFE Workload API standard; wire facts
// in proto/spiffe/workload/workload.proto).
inline constexpr const char* kFetchX509SvidPath = "/SpiffeWorkloadAPI/FetchX509SVID";
// Every Workload API call carries it: an agent refuses calls without (the standard's guard
// against a workload tricked into proxying a request to it).
inline constexpr const char* kWorkloadApiHeader = "workload.spiffe.io";

// What one FetchX509SVID message puts in force: its first (default) SVID with its key, its
// trust domain's bundle and the federated bundles as trust anchors; the leaf checked to name
// the SVID's spiffe_id. Throws tls::TlsSetupError saying what is wrong with the message.
struct SvidUpdate {
  std::shared_ptr<tls::IssuedIdentity> issued;
  tls::CertificateInfo leaf;
  size_t federated_bundles = 0;
};
SvidUpdate read_svid_response(const std::string& message);

// This process's identity from a local SPIFFE agent (SPIRE's), as its workloads get theirs:
// one FetchX509SVID stream for as long as the process runs; each message the agent sends
// (the first, and every rotation) installs the first (default) SVID with its key and its
// trust domain's bundle plus the federated bundles as trust anchors. The key comes from the
// agent and stays in memory. A stream that fails or ends is opened again with back-off
// (the agent restarting: UNAVAILABLE; a workload it has no entry for yet:
// PERMISSION_DENIED); the certificate in force stays meanwhile. On the control-plane thread.
class SvidClient {
 public:
  struct Options {
    util::Backoff::Policy backoff{};
  };
  // `channel` (h2c on the agent's unix socket) outlives it.
  SvidClient(net::EventLoop& loop, grpc::Channel& channel, Options options, CaClient::Install install);
  ~SvidClient();
  SvidClient(const SvidClient&) = delete;
  SvidClient& operator=(const SvidClient&) = delete;

  void start() { fetch(); }
  // Any thread.
  bool has_certificate() const { return installed_.load(); }
  // Any thread: /config_dump's "certificates" entry.
  nlohmann::json status() const;

 private:
  void fetch();
  void on_message(std::string&& bytes);
  void on_close(const grpc::Status& status);
  void failed(const std::string& why);

  Options options_;
  CaClient::Install install_;
  grpc::Channel& channel_;
  util::Backoff backoff_;
  net::Timer retry_;
  grpc::Call* call_ = nullptr;
  std::atomic<bool> installed_{false};
  mutable std::mutex status_mutex_;
  uint64_t updates_ = 0;
  uint64_t errors_ = 0;
  std::string last_error_;
  std::string identity_;
  std::string serial_;
  std::chrono::system_clock::time_point not_after_{};
};

}  // namespace hbone::ca
