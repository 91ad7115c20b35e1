#include "grpc/channel_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "h2/header.h"
#include "hbone/version.h"

namespace hbone::grpc {
namespace {

const std::string kUserAgent = std::string("hbone/") + kVersion;

}  // namespace

ChannelConnection::ChannelConnection(worker::Context& worker, const ChannelOptions& options, OnClosed on_closed)
    : H2Connection(worker, options.tls, Side::client, options.pings),
      options_(options),
      // A unix socket's authority is "localhost", as gRPC's own clients send it.
      authority_(!options.authority.empty()      ? options.authority
                 : options.unix_socket.empty() ? options.target.to_string()
                                               : "localhost"),
      on_closed_(std::move(on_closed)) {}

std::unique_ptr<net::Dialer> ChannelConnection::dial(net::Dialer::OnDone done) {
  net::DialOptions dial = worker().dial_options(options_.connect_timeout);
  if (options_.unix_socket.empty()) return std::make_unique<net::Dialer>(loop(), options_.target, dial, nullptr, std::move(done));
  // A name too long has no address (the config refuses it first): the dial fails.
  std::vector<net::SocketAddress> agent;
  if (auto address = net::unix_address(options_.unix_socket)) agent.push_back(*address);
  dial.mark = 0;  // not a TCP connection leaving the host: nothing to keep from capture
  return std::make_unique<net::Dialer>(loop(), std::move(agent), dial, nullptr, std::move(done));
}

void ChannelConnection::connect() {
  std::string server = options_.where();
  set_peer_address(server);
  dialer_ = dial([this, server](net::Dialer::Result r) {
        loop().retire(std::move(dialer_));  // we are inside its callback
        if (r.failure != net::Dialer::Failure::none) {
          close("cannot reach " + server + ": " + net::to_string(r.failure) + " (" + r.detail + ")");
          return;
        }
        start(worker().socket_stream(std::move(r.fd), worker::Context::SocketUse::hbone, std::move(r.watcher)),
              server);
      });
}

Call& ChannelConnection::start_call(CallOptions options, CallHandlers handlers) {
  auto call = std::make_unique<Call>(*this, std::move(options), std::move(handlers));
  Call& started = *call;
  if (ready()) {
    submit(std::move(call));
  } else {
    waiting_.push_back(std::move(call));
  }
  return started;
}

void ChannelConnection::submit(std::unique_ptr<Call> call) {
  const CallOptions& options = call->options();
  std::string timeout;
  if (auto left = call->time_left()) timeout = timeout_header(*left);
  std::vector<h2::Header> headers = {
      {":method", "POST"},
      {":scheme", options_.tls ? "https" : "http"},
      {":path", options.path},
      {":authority", authority_},
      {"content-type", "application/grpc"},
      {"te", "trailers"},
      {"user-agent", kUserAgent},
  };
  if (!timeout.empty()) headers.push_back({"grpc-timeout", timeout});
  for (const auto& [name, value] : options.metadata) headers.push_back({name, value});
  int32_t id = submit_request(headers, call.get());
  if (id < 0) {
    call->fail({Code::unavailable, std::string("cannot open a stream: ") + nghttp2_strerror(id)});
    return;
  }
  call->submitted(id);
  adopt_stream(id, std::move(call));
}

void ChannelConnection::drop_waiting(Call& call) {
  auto it = std::find_if(waiting_.begin(), waiting_.end(), [&](const auto& c) { return c.get() == &call; });
  if (it == waiting_.end()) return;
  loop().retire(std::move(*it));  // we may be inside its callback
  waiting_.erase(it);
}

void ChannelConnection::shut_down() {
  on_closed_ = nullptr;
  std::vector<Call*> calls;
  for (auto& call : waiting_) calls.push_back(call.get());
  for_each_stream([&](int32_t, h2::StreamHandler& handler) { calls.push_back(static_cast<Call*>(&handler)); });
  for (Call* call : calls) call->cancel();
  close("channel closed");
}

h2::PeerCheck ChannelConnection::check_tls_peer(tls::TlsSession& tls) {
  if (tls.alpn() != "h2") return {h2::TlsResult::alpn, "", "server did not negotiate ALPN h2"};
  const std::string& name = options_.tls->server_name();
  if (name.starts_with("spiffe://")) {
    std::optional<identity::SpiffeId> id = tls.peer_identity();
    if (!id) return {h2::TlsResult::spiffe_id, "", tls.error()};
    if (id->to_string() != name) {
      return {h2::TlsResult::identity, id->to_string(),
              "server identity " + id->to_string() + " is not the expected " + name};
    }
  }
  // A DNS name was checked by the library during the handshake.
  return {h2::TlsResult::ok, name, ""};
}

void ChannelConnection::on_ready() {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& call : waiting) submit(std::move(call));
}

int ChannelConnection::on_header(const nghttp2_frame* frame, std::string_view name, std::string_view value) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (Call* call = this->call(frame->hd.stream_id)) {
    call->on_header(frame->headers.cat == NGHTTP2_HCAT_HEADERS, name, value);
  }
  return 0;
}

void ChannelConnection::on_headers_complete(const nghttp2_frame* frame) {
  if (Call* call = this->call(frame->hd.stream_id)) call->on_headers(frame->headers.cat == NGHTTP2_HCAT_HEADERS);
}

void ChannelConnection::on_closed(const std::string& reason) {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& call : waiting) call->fail({Code::unavailable, reason});
  for (auto& call : waiting) loop().retire(std::move(call));
  if (on_closed_) on_closed_(this);
}

void ChannelConnection::describe_role(nlohmann::json& out) const {
  out["authority"] = authority_;
  out["calls_waiting"] = waiting_.size();
}

}  // namespace hbone::grpc
