#include "ca/certificate_cache.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace hbone::ca {

CertificateCache::CertificateCache(net::EventLoop& loop, grpc::Channel& channel, CaStats& stats,
                                   CaClient::Options base, Issued issued)
    : loop_(loop), channel_(channel), stats_(stats), base_(std::move(base)), issued_(std::move(issued)) {
  base_.impersonate = true;
}

void CertificateCache::acquire(const std::string& identity) {
  std::unique_lock lock(mutex_);
  Entry& entry = entries_[identity];
  if (entry.holders++ > 0) return;
  CaClient::Options options = base_;
  options.identity = identity;
  entry.client = std::make_unique<CaClient>(
      loop_, channel_, stats_, std::move(options),
      [this, identity](const std::shared_ptr<const tls::IssuedIdentity>& issued) {
        issued_(identity, issued);  // throws having changed nothing
      });
  lock.unlock();
  entry.client->start();
}

bool CertificateCache::release(const std::string& identity) {
  std::unique_ptr<CaClient> gone;  // destroyed outside the lock: it cancels its call
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(identity);
    if (it == entries_.end() || --it->second.holders > 0) return false;
    gone = std::move(it->second.client);
    entries_.erase(it);
  }
  spdlog::info("ca: certificate for {} dropped: no pod of it is left", identity);
  return true;
}

nlohmann::json CertificateCache::status() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [identity, entry] : entries_) {
    nlohmann::json one = entry.client->status();
    one["pods"] = entry.holders;
    out.push_back(std::move(one));
  }
  return out;
}

}  // namespace hbone::ca
