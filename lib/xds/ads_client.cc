#include "xds/ads_client.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "grpc/istio_auth.h"

namespace hbone::xds {
namespace {

// ztunnel's limit (max_decoding_message_size): a whole large cluster in one response.
constexpr size_t kMaxResponse = 200u << 20;
// The type's last name part: "Address", "Authorization" (the metrics' `type` label).
std::string short_type(const std::string& type_url) {
  size_t dot = type_url.rfind('.');
  return dot == std::string::npos ? type_url : type_url.substr(dot + 1);
}

}  // namespace

AdsClient::AdsClient(worker::Context& context, Options options, std::vector<Subscription> subscriptions)
    : context_(context),
      options_(std::move(options)),
      node_(options_.node.node()),
      channel_(context, options_.channel),
      backoff_(options_.backoff),
      reconnect_(context.loop.uv(), [this] { connect(); }) {
  for (Subscription& s : subscriptions) {
    auto type = std::make_unique<TypeState>();
    type->type_url = std::move(s.type_url);
    type->apply = std::move(s.apply);
    types_.push_back(std::move(type));
  }
}

AdsClient::~AdsClient() {
  if (call_) call_->cancel();
}

void AdsClient::start() { connect(); }

void AdsClient::connect() {
  std::string why;
  auto metadata = grpc::istio_auth_metadata(options_.token_file, options_.cluster_id, why);
  if (!metadata) {
    retry_later(why);
    return;
  }
  grpc::CallOptions call{.path = kDeltaAdsPath, .metadata = std::move(*metadata), .max_message = kMaxResponse};
  responses_on_stream_ = 0;
  call_ = &channel_.start(std::move(call), {.on_message = [this](std::string&& m) { on_message(std::move(m)); },
                                            .on_close = [this](const grpc::Status& s) { on_close(s); }});
  {
    std::lock_guard lock(status_mutex_);
    ++connects_;
  }
  for (const auto& type : types_) {
    envoy::service::discovery::v3::DeltaDiscoveryRequest request;
    *request.mutable_node() = node_;
    request.set_type_url(type->type_url);
    request.mutable_initial_resource_versions()->insert(type->versions.begin(), type->versions.end());
    call_->send(request.SerializeAsString());
  }
  spdlog::info("xds: stream to {} opened, {} resources already held", options_.channel.target.to_string(),
               [this] {
                 size_t n = 0;
                 for (const auto& type : types_) n += type->versions.size();
                 return n;
               }());
}

void AdsClient::retry_later(const std::string& why) {
  auto delay = backoff_.next();
  spdlog::warn("xds: {}; retrying in {} ms", why, delay.count());
  reconnect_.start(delay);
}

void AdsClient::on_message(std::string&& bytes) {
  DeltaResponse response;
  if (!response.ParseFromString(bytes)) {
    // Nothing to answer: without its type and nonce a response cannot be NACKed.
    call_->cancel();
    call_ = nullptr;
    connected_ = false;
    retry_later("xds: a response that is not a DeltaDiscoveryResponse (" + std::to_string(bytes.size()) + " bytes)");
    return;
  }
  if (responses_on_stream_++ == 0) {
    connected_ = true;
    backoff_.reset();
  }
  TypeState* type = nullptr;
  for (const auto& t : types_) {
    if (t->type_url == response.type_url()) type = t.get();
  }
  if (!type) {
    // As ztunnel: answered (so istiod does not wait on it) and otherwise ignored.
    spdlog::error("xds: response of a type not subscribed: {}", response.type_url());
    envoy::service::discovery::v3::DeltaDiscoveryRequest ack;
    ack.set_type_url(response.type_url());
    ack.set_response_nonce(response.nonce());
    call_->send(ack.SerializeAsString());
    return;
  }
  std::vector<Rejected> rejected;
  std::optional<std::string> whole;  // why none of it was taken
  try {
    rejected = type->apply(response);
  } catch (const std::exception& e) {
    whole = e.what();
  }
  if (!whole) {
    // Versions of what was taken, sent back on reconnect. A rejected resource is left out:
    // istiod must send it again then (ztunnel does the same).
    for (const std::string& name : response.removed_resources()) type->versions.erase(name);
    for (const auto& resource : response.resources()) {
      bool refused = std::any_of(rejected.begin(), rejected.end(), [&](const Rejected& r) { return r.name == resource.name(); });
      if (refused) {
        type->versions.erase(resource.name());
      } else {
        type->versions[resource.name()] = resource.version();
      }
    }
  }
  respond(*type, response, rejected, whole);
}

void AdsClient::respond(TypeState& type, const DeltaResponse& response, const std::vector<Rejected>& rejected,
                        const std::optional<std::string>& whole) {
  envoy::service::discovery::v3::DeltaDiscoveryRequest answer;
  answer.set_type_url(type.type_url);
  answer.set_response_nonce(response.nonce());
  std::string error;
  if (whole) {
    error = "response not applied: " + *whole;
  } else {
    for (const Rejected& r : rejected) error += (error.empty() ? "" : "; ") + r.name + ": " + r.reason;
  }
  if (!error.empty()) {
    answer.mutable_error_detail()->set_code(13);  // INTERNAL, as Envoy NACKs
    answer.mutable_error_detail()->set_message(error);
    spdlog::error("xds: NACK {} nonce {}: {}", short_type(type.type_url), response.nonce(), error);
  } else {
    spdlog::debug("xds: ACK {} nonce {}: {} resources, {} removed", short_type(type.type_url), response.nonce(),
                  response.resources_size(), response.removed_resources_size());
  }
  {
    std::lock_guard lock(status_mutex_);
    type.nonce = response.nonce();
    type.system_version = response.system_version_info();
    type.resources = type.versions.size();
    if (error.empty()) {
      ++type.acks;
      type.acked = true;
    } else {
      ++type.nacks;
      type.last_error = error;
    }
  }
  call_->send(answer.SerializeAsString());
}

void AdsClient::on_close(const grpc::Status& status) {
  call_ = nullptr;
  connected_ = false;
  // A stream that worked ends for ordinary reasons too (istiod's connection age, a
  // restart): back to the first delay. One that never got a response backs off further.
  if (responses_on_stream_ > 0) backoff_.reset();
  retry_later("stream to " + options_.channel.target.to_string() + " ended: " + grpc::name(status.code) +
              (status.message.empty() ? "" : ": " + status.message));
}

bool AdsClient::synced() const {
  std::lock_guard lock(status_mutex_);
  return std::all_of(types_.begin(), types_.end(), [](const auto& t) { return t->acked; });
}

nlohmann::json AdsClient::status() const {
  std::lock_guard lock(status_mutex_);
  nlohmann::json out = {{"address", options_.channel.target.to_string()},
                        {"node", node_.id()},
                        {"connected", connected_.load()},
                        {"streams", connects_}};
  nlohmann::json& types = out["types"] = nlohmann::json::object();
  for (const auto& t : types_) {
    types[t->type_url] = {{"nonce", t->nonce},         {"systemVersion", t->system_version},
                          {"resources", t->resources}, {"acks", t->acks},
                          {"nacks", t->nacks},         {"lastError", t->last_error}};
  }
  return out;
}

void AdsClient::collect(metrics::Families& out) const {
  using prometheus::MetricType;
  std::lock_guard lock(status_mutex_);
  metrics::FamilyBuilder(out, "hbone_xds_connected", "1 while the delta-ADS stream to istiod is up",
                         MetricType::Gauge)
      .value({}, connected_.load() ? 1 : 0);
  metrics::FamilyBuilder pushes(out, "hbone_xds_pushes_total", "xDS responses by type, ACKed or NACKed",
                                MetricType::Counter);
  for (const auto& t : types_) {
    pushes.value({{"type", short_type(t->type_url)}, {"result", "ack"}}, static_cast<double>(t->acks));
    pushes.value({{"type", short_type(t->type_url)}, {"result", "nack"}}, static_cast<double>(t->nacks));
  }
  metrics::FamilyBuilder resources(out, "hbone_xds_resources", "xDS resources in force, by type", MetricType::Gauge);
  for (const auto& t : types_) resources.value({{"type", short_type(t->type_url)}}, static_cast<double>(t->resources));
}

}  // namespace hbone::xds
