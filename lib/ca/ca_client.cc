#include "ca/ca_client.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "grpc/istio_auth.h"
#include "istio/v1/auth/ca.pb.h"
#include "tls/certificate_info.h"
#include "tls/csr.h"

namespace hbone::ca {
namespace {

// A CA call that does not answer in this long is given up and retried.
constexpr std::chrono::milliseconds kCallTimeout{30'000};

// Each certificate of `pem`, as its own PEM text, in order.
std::vector<std::string> split_pem(const std::string& pem) {
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<std::string> out;
  size_t begin = 0;
  while (true) {
    size_t start = pem.find("-----BEGIN CERTIFICATE-----", begin);
    size_t end = pem.find(kEnd, start);
    if (start == std::string::npos || end == std::string::npos) break;
    out.push_back(pem.substr(start, end + kEnd.size() - start) + "\n");
    begin = end + kEnd.size();
  }
  return out;
}

}  // namespace

void CaStats::collect(metrics::Families& out) const {
  metrics::FamilyBuilder f(out, "hbone_ca_requests_total", "Certificate requests to istiod's CA, by result",
                           prometheus::MetricType::Counter);
  f.value({{"result", "ok"}}, static_cast<double>(ok.load()));
  f.value({{"result", "error"}}, static_cast<double>(errors.load()));
}

CaClient::CaClient(net::EventLoop& loop, grpc::Channel& channel, CaStats& stats, Options options, Install install)
    : options_(std::move(options)),
      install_(std::move(install)),
      channel_(channel),
      stats_(stats),
      backoff_(options_.backoff),
      next_(loop.uv(), [this] { request(); }) {}

CaClient::~CaClient() {
  if (call_) call_->cancel();
}

void CaClient::request() {
  std::string why;
  auto metadata = grpc::istio_auth_metadata(options_.token_file, options_.cluster_id, why);
  if (!metadata) {
    failed(why);
    return;
  }
  tls::CertificateRequest csr;
  try {
    csr = tls::make_certificate_request(options_.identity);
  } catch (const std::exception& e) {
    failed(e.what());
    return;
  }
  istio::v1::auth::IstioCertificateRequest request;
  request.set_csr(csr.csr);
  request.set_validity_duration(options_.ttl.count());
  if (options_.impersonate) {
    // ztunnel's src/identity/caclient.rs: metadata {"ImpersonatedIdentity": "<spiffe id>"}.
    (*request.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(options_.identity);
  }
  pending_key_ = std::move(csr.key);
  response_.clear();
  call_ = &channel_.start({.path = kCreateCertificatePath, .metadata = std::move(*metadata), .timeout = kCallTimeout},
                          {.on_message = [this](std::string&& m) { response_ = std::move(m); },
                           .on_close = [this](const grpc::Status& s) { on_close(s); }});
  call_->send(request.SerializeAsString());
  call_->finish_sending();
}

void CaClient::on_close(const grpc::Status& status) {
  call_ = nullptr;
  if (!status.ok()) {
    failed(std::string("CA ") + channel_.options().target.to_string() + ": " + grpc::name(status.code) +
           (status.message.empty() ? "" : ": " + status.message));
    return;
  }
  on_response(std::move(response_));
}

void CaClient::on_response(std::string&& bytes) {
  istio::v1::auth::IstioCertificateResponse response;
  if (!response.ParseFromString(bytes) || response.cert_chain_size() == 0) {
    failed("the CA's response holds no certificate");
    return;
  }
  // Each entry is one certificate, the leaf first (some CAs put several in one entry).
  std::vector<std::string> certificates;
  for (const std::string& entry : response.cert_chain()) {
    for (std::string& pem : split_pem(entry)) certificates.push_back(std::move(pem));
  }
  if (certificates.empty()) {
    failed("the CA's response holds no PEM certificate");
    return;
  }
  auto issued = std::make_shared<tls::IssuedIdentity>();
  issued->key = pending_key_;
  for (const std::string& pem : certificates) issued->chain += pem;
  // The mesh's root, and the root the CA ends its chain with (when it sent more than the leaf).
  issued->roots = options_.extra_roots + (certificates.size() > 1 ? certificates.back() : "");
  std::vector<tls::CertificateInfo> chain;
  try {
    chain = tls::parse_certificates(issued->chain);
    if (chain.front().spiffe_id != options_.identity) {
      throw tls::TlsSetupError("the CA issued \"" + chain.front().spiffe_id + "\", not the " + options_.identity +
                               " asked for");
    }
    install_(issued);  // builds the TLS contexts: a key that does not match throws here
  } catch (const std::exception& e) {
    failed(e.what());
    return;
  }
  const tls::CertificateInfo& leaf = chain.front();
  auto renew_at = leaf.not_before + (leaf.not_after - leaf.not_before) / 2;
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(renew_at - std::chrono::system_clock::now());
  next_.start(std::max(delay, std::chrono::milliseconds(1000)));
  backoff_.reset();
  installed_ = true;
  ++stats_.ok;
  {
    std::lock_guard lock(status_mutex_);
    ++ok_;
    serial_ = leaf.serial;
    not_after_ = leaf.not_after;
    renew_at_ = renew_at;
  }
  spdlog::info("ca: certificate for {} installed (serial {}, expires {}, renewal at {})", options_.identity,
               leaf.serial, tls::iso_time(leaf.not_after), tls::iso_time(renew_at));
}

void CaClient::failed(const std::string& why) {
  pending_key_.reset();
  auto delay = backoff_.next();
  ++stats_.errors;
  {
    std::lock_guard lock(status_mutex_);
    ++errors_;
    last_error_ = why;
  }
  spdlog::error("ca: certificate for {} not issued: {}; retrying in {} ms", options_.identity, why, delay.count());
  next_.start(delay);
}

nlohmann::json CaClient::status() const {
  std::lock_guard lock(status_mutex_);
  nlohmann::json out = {{"identity", options_.identity}, {"ca", channel_.options().target.to_string()},
                        {"installed", installed_.load()}, {"requests_ok", ok_}, {"requests_failed", errors_},
                        {"lastError", last_error_}};
  if (installed_) {
    out["serial"] = serial_;
    out["expires"] = tls::iso_time(not_after_);
    out["renewal"] = tls::iso_time(renew_at_);
  }
  return out;
}

}  // namespace hbone::ca
