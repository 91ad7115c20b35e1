#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "address/host_port.h"
#include "grpc/call.h"
#include "h2/h2_connection.h"
#include "net/dialer.h"
#include "tls/tls_context.h"

namespace hbone::grpc {

// Where a channel's calls go and how.
struct ChannelOptions {
  address::HostPort target{};
  // A local agent's unix socket (the SPIFFE Workload API), dialled instead of `target`.
  std::string unix_socket{};
  // Every call's :authority (the server's name); the target's text when empty.
  std::string authority{};
  // Server-authenticated TLS (tls::ServerAuth); null: h2c, for an agent on a local socket.
  std::shared_ptr<const tls::TlsContext> tls{};
  std::chrono::milliseconds connect_timeout{10'000};
  // ztunnel's for its control-plane channel (src/tls/control.rs: every 30 s, 10 s to answer),
  // and only while a call is open: istiod (grpc-go) strikes PINGs closer than 15 s (its
  // keepalive Time / 2) and any PING on a connection without streams, and after two
  // strikes ends the connection with GOAWAY "too_many_pings".
  h2::Keepalive::Policy pings{.interval = std::chrono::seconds(30), .timeout = std::chrono::seconds(10),
                              .while_idle = false};

  // What the channel dials, for logs and /config_dump: "host:port" or "unix:/path".
  std::string where() const { return unix_socket.empty() ? target.to_string() : "unix:" + unix_socket; }
};

// One HTTP/2 connection of a Channel, client side: each stream a Call. Calls started while
// it dials and shakes hands wait, and fail UNAVAILABLE with the reason if it never gets
// there. The server is checked by its name (ChannelOptions::tls), not as an HBONE peer.
class ChannelConnection final : public h2::H2Connection {
 public:
  using OnClosed = std::function<void(ChannelConnection*)>;
  ChannelConnection(worker::Context& worker, const ChannelOptions& options, OnClosed on_closed);

  void connect();
  // Valid until its on_close (or cancel()).
  Call& start_call(CallOptions options, CallHandlers handlers);
  // Cancels every call (no handler hears of it) and closes: the channel is going away.
  void shut_down();
  // A call that was never sent leaves the queue (its deadline passed, it was cancelled).
  void drop_waiting(Call& call);
  bool takes_calls() const { return !closed() && !draining(); }

  int on_header(const nghttp2_frame* frame, std::string_view name, std::string_view value) override;

 protected:
  h2::PeerCheck check_tls_peer(tls::TlsSession& tls) override;
  bool verify_peer(tls::TlsSession&, std::string&) override { return true; }
  void on_ready() override;
  bool has_waiting_streams() const override { return !waiting_.empty(); }
  void on_headers_complete(const nghttp2_frame* frame) override;
  void on_closed(const std::string& reason) override;
  void describe_role(nlohmann::json& out) const override;
  std::string_view log_kind() const override { return "gRPC"; }

 private:
  // A dialer to the target, or to the unix socket when one is given.
  std::unique_ptr<net::Dialer> dial(net::Dialer::OnDone done);
  void submit(std::unique_ptr<Call> call);
  Call* call(int32_t stream_id) const { return static_cast<Call*>(stream(stream_id)); }

  const ChannelOptions& options_;
  std::string authority_;
  OnClosed on_closed_;
  std::unique_ptr<net::Dialer> dialer_;
  std::vector<std::unique_ptr<Call>> waiting_;  // until the connection is ready
};

}  // namespace hbone::grpc
