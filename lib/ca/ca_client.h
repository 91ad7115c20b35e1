#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "util/backoff.h"
#include "grpc/channel.h"
#include "metrics/family.h"
#include "net/timer.h"
#include "tls/tls_context.h"

namespace hbone::ca {

// Istio's CA method (istio/api security/v1alpha1/ca.proto, as ztunnel calls it:
// IstioCertificateService.CreateCertificate).
inline constexpr const char* kCreateCertificatePath = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

// What every certificate request to istiod's CA adds to: hbone_ca_requests_total{result}.
struct CaStats {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> errors{0};
  void collect(metrics::Families& out) const;
};

// One identity's certificate from istiod's CA, as ztunnel's CaClient gets it: a fresh EC
// P-256 key made in memory (never written anywhere, never sent), a CSR for `identity`, the
// chain the CA returns checked (its leaf names exactly that identity and matches the key)
// and installed; renewed at half its lifetime, retried with back-off when a request fails.
// Open connections keep the certificate they shook hands with; new handshakes use the new
// one. A node proxy asks for its pods' identities (`impersonate`: the identity named in
// the request's metadata, which istiod checks against the pods on the caller's node). On
// the control-plane thread; calls go on a channel shared with other identities' clients.
class CaClient {
 public:
  // Puts the certificate in force, or throws having changed nothing.
  using Install = std::function<void(const std::shared_ptr<const tls::IssuedIdentity>& issued)>;
  struct Options {
    std::string token_file;  // "": no token
    std::string cluster_id;
    std::string identity;  // spiffe://<trust domain>/ns/<namespace>/sa/<service account>
    std::chrono::seconds ttl{86'400};
    // PEM trusted besides the root the CA returns (xds.root_ca: the mesh's root).
    std::string extra_roots;
    // Asked for on a workload's behalf (ztunnel's ImpersonatedIdentity).
    bool impersonate = false;
    util::Backoff::Policy backoff{};
  };
  // `channel` and `stats` outlive it.
  CaClient(net::EventLoop& loop, grpc::Channel& channel, CaStats& stats, Options options, Install install);
  ~CaClient();
  CaClient(const CaClient&) = delete;
  CaClient& operator=(const CaClient&) = delete;

  void start() { request(); }
  // Any thread: a certificate is installed.
  bool has_certificate() const { return installed_.load(); }
  const std::string& identity() const { return options_.identity; }
  // Any thread: /config_dump's "certificates" entry.
  nlohmann::json status() const;

 private:
  void request();
  void on_response(std::string&& bytes);
  void on_close(const grpc::Status& status);
  void failed(const std::string& why);

  Options options_;
  Install install_;
  grpc::Channel& channel_;
  CaStats& stats_;
  util::Backoff backoff_;
  net::Timer next_;  // the renewal, or the retry
  grpc::Call* call_ = nullptr;
  std::shared_ptr<EVP_PKEY> pending_key_;  // the key of the request in flight
  std::string response_;                   // the one response message
  std::atomic<bool> installed_{false};
  mutable std::mutex status_mutex_;
  uint64_t ok_ = 0;
  uint64_t errors_ = 0;
  std::string last_error_;
  std::string serial_;
  std::chrono::system_clock::time_point not_after_{};
  std::chrono::system_clock::time_point renew_at_{};
};

}  // namespace hbone::ca
