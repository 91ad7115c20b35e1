#include "ca/svid_client.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "spiffe/workload/workload.pb.h"
#include "tls/der.h"

namespace hbone::ca {

SvidUpdate read_svid_response(const std::string& message) {
  X509SVIDResponse response;
  if (!response.ParseFromString(message)) throw tls::TlsSetupError("the agent's message cannot be decoded");
  if (response.svids_size() == 0) throw tls::TlsSetupError("the agent's message holds no SVID");
  const X509SVID& svid = response.svids(0);
  SvidUpdate update;
  auto& issued = update.issued = std::make_shared<tls::IssuedIdentity>();
  issued->key = tls::pkcs8_private_key(svid.x509_svid_key(), "SVID " + svid.spiffe_id() + " key");
  issued->chain = tls::der_certificates_to_pem(svid.x509_svid(), "SVID " + svid.spiffe_id());
  issued->roots = tls::der_certificates_to_pem(svid.bundle(), "bundle of " + svid.spiffe_id());
  for (const auto& [trust_domain, bundle] : response.federated_bundles()) {
    issued->roots += tls::der_certificates_to_pem(bundle, "federated bundle of " + trust_domain);
  }
  update.leaf = tls::parse_certificates(issued->chain).front();
  // An empty spiffe_id beside a leaf without one would match (found by svid_fuzz).
  if (update.leaf.spiffe_id.empty()) throw tls::TlsSetupError("the SVID's certificate holds no SPIFFE id");
  if (update.leaf.spiffe_id != svid.spiffe_id()) {
    throw tls::TlsSetupError("the SVID's certificate names \"" + update.leaf.spiffe_id + "\", not " + svid.spiffe_id());
  }
  update.federated_bundles = static_cast<size_t>(response.federated_bundles_size());
  return update;
}

SvidClient::SvidClient(net::EventLoop& loop, grpc::Channel& channel, Options options, CaClient::Install install)
    : options_(std::move(options)),
      install_(std::move(install)),
      channel_(channel),
      backoff_(options_.backoff),
      retry_(loop.uv(), [this] { fetch(); }) {}

SvidClient::~SvidClient() {
  if (call_) call_->cancel();
}

void SvidClient::fetch() {
  call_ = &channel_.start({.path = kFetchX509SvidPath, .metadata = {{kWorkloadApiHeader, "true"}}},
                          {.on_message = [this](std::string&& m) { on_message(std::move(m)); },
                           .on_close = [this](const grpc::Status& s) { on_close(s); }});
  call_->send(X509SVIDRequest().SerializeAsString());
  call_->finish_sending();
}

void SvidClient::on_message(std::string&& bytes) {
  SvidUpdate update;
  try {
    update = read_svid_response(bytes);
    install_(update.issued);  // builds the TLS contexts: a key that does not match throws here
  } catch (const std::exception& e) {
    failed(e.what());  // the stream stays: the agent's next message may be good
    return;
  }
  backoff_.reset();
  installed_ = true;
  const tls::CertificateInfo& leaf = update.leaf;
  {
    std::lock_guard lock(status_mutex_);
    ++updates_;
    identity_ = leaf.spiffe_id;
    serial_ = leaf.serial;
    not_after_ = leaf.not_after;
  }
  spdlog::info("spiffe: SVID {} installed (serial {}, {} federated bundle(s))", leaf.spiffe_id, leaf.serial,
               update.federated_bundles);
}

void SvidClient::on_close(const grpc::Status& status) {
  call_ = nullptr;
  auto delay = backoff_.next();
  failed("Workload API " + channel_.options().where() + ": " +
         (status.ok() ? std::string("the agent ended the stream")
                      : grpc::name(status.code) + (status.message.empty() ? "" : ": " + status.message)) +
         "; fetching again in " + std::to_string(delay.count()) + " ms");
  retry_.start(delay);
}

void SvidClient::failed(const std::string& why) {
  {
    std::lock_guard lock(status_mutex_);
    ++errors_;
    last_error_ = why;
  }
  spdlog::error("spiffe: {}", why);
}

nlohmann::json SvidClient::status() const {
  std::lock_guard lock(status_mutex_);
  nlohmann::json out = {{"provider", "spiffe_workload_api"}, {"agent", channel_.options().where()},
                        {"installed", installed_.load()}, {"updates", updates_}, {"errors", errors_},
                        {"lastError", last_error_}};
  if (installed_) {
    out["identity"] = identity_;
    out["serial"] = serial_;
    out["expires"] = tls::iso_time(not_after_);
  }
  return out;
}

}  // namespace hbone::ca
