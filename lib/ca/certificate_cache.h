#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "ca/ca_client.h"

namespace hbone::ca {

// The certificates of the identities a node proxy serves pods of (ztunnel's SecretManager):
// one CaClient per identity, asking on the pods' behalf, started by the identity's first
// pod and dropped, certificate and key with it, when its last pod goes. Pods of one
// identity share its certificate. On the control-plane thread; status() from any.
class CertificateCache {
 public:
  // An identity's certificate came or was renewed: put it in force, or throw having changed
  // nothing (the request is retried).
  using Issued = std::function<void(const std::string& identity, const std::shared_ptr<const tls::IssuedIdentity>&)>;
  // `base`: every client's options but the identity (impersonate is set). `channel` and
  // `stats` outlive it.
  CertificateCache(net::EventLoop& loop, grpc::Channel& channel, CaStats& stats, CaClient::Options base, Issued issued);

  // One more pod of `identity`: its first starts the requests.
  void acquire(const std::string& identity);
  // One pod of `identity` fewer: with the last, its client and certificate go (true).
  bool release(const std::string& identity);
  size_t size() const { return entries_.size(); }
  // Any thread: one entry per identity (CaClient::status and its pod count).
  nlohmann::json status() const;

 private:
  struct Entry {
    size_t holders = 0;
    std::unique_ptr<CaClient> client;
  };

  net::EventLoop& loop_;
  grpc::Channel& channel_;
  CaStats& stats_;
  CaClient::Options base_;
  Issued issued_;
  mutable std::mutex mutex_;  // entries_' shape, for status() on other threads
  std::map<std::string, Entry> entries_;
};

}  // namespace hbone::ca
