#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/admit.h"
#include "gateway/gateway_stream.h"
#include "h2/h2_connection.h"
#include "net/dialer.h"
#include "tunnel/admission.h"
#include "tunnel/peer_policy.h"
#include "tunnel/tunnel.h"

namespace hbone::net {
class ConnectionBalancer;
class OwnListeners;
}

namespace hbone::gateway {

using tunnel::PeerPolicy;
using tunnel::Tunnel;

// What the gateway role shares across its connections on one worker.
struct GatewayContext {
  worker::Context& worker;
  std::shared_ptr<const PeerPolicy> policy;  // the newest; a reload replaces it
  tunnel::Admission& admission;              // process-wide tunnel caps
  net::ConnectionBalancer* balancer;         // null: each worker keeps what it accepts
  std::shared_ptr<const net::OwnListeners> own_listeners;  // never dialled for a peer; a reload replaces it
};

// Server side of one HBONE connection: validates each CONNECT, dials the target, answers
// 200 only once connected (RFC 9110 §9.3.6), then relays.
class GatewayConnection final : public h2::H2Connection {
 public:
  using OnClosed = std::function<void(GatewayConnection*)>;
  GatewayConnection(GatewayContext& ctx, OnClosed on_closed);
  // The local address the connection arrived on (gateway.require_arrived_address).
  void set_arrived_address(const sockaddr_storage& address) { arrived_ = address; }
  // The peer's address (gateway.policies' ip_blocks).
  void set_peer(const sockaddr_storage& address);
  // gateway.policies changed: tunnels the new ones deny are reset and counted.
  void recheck_tunnels();

  int on_begin_headers(const nghttp2_frame* frame) override;
  int on_header(const nghttp2_frame* frame, std::string_view name,
                std::string_view value) override;

 protected:
  bool verify_peer(tls::TlsSession& tls, std::string& why) override;
  void on_headers_complete(const nghttp2_frame* frame) override;
  void on_closed(const std::string& reason) override;
  void after_frame_sent(const nghttp2_frame* frame) override;
  void after_input() override;

 private:
  GatewayStream* request(int32_t stream_id) const;
  void handle_request(GatewayStream& stream);
  void dial(GatewayStream& stream, const address::HostPort& target);
  void on_dialed(int32_t stream_id, net::Dialer::Result result);
  // What a verdict reads of this connection: its peer, and the gateway's settings with these
  // snapshots.
  Peer peer() const;
  Rules rules(const PeerPolicy& snapshot, const net::OwnListeners& own) const;
  // The verdict on `address` for `stream` under these snapshots, noted on the stream; its
  // reason ("" when admitted).
  std::string vet(const PeerPolicy& snapshot, const net::OwnListeners& own, GatewayStream& stream,
                  const sockaddr* address) const;
  // Counts a refused stream's refusal as its verdict noted it (a destination rule or a policy).
  void count_refusal(const GatewayStream& stream);
  // A final non-200 response; the stream is then reset with NO_ERROR (RFC 9113 §8.1).
  // gateway.proxy_protocol: v2, written to the target before any relayed byte.
  bool send_proxy_header(const GatewayStream& stream, const net::Dialer::Result& dialed);
  void respond_error(GatewayStream& stream, int status, const std::string& why,
                     const char* flags = nullptr);

  GatewayContext& ctx_;
  OnClosed on_closed_;
  sockaddr_storage arrived_{};
  sockaddr_storage peer_{};
  // Admitted requests of the current input batch, dialled once it is processed: a stream
  // opened and reset in one batch (rapid reset) never costs the target a connection.
  std::vector<int32_t> to_dial_;
};

}  // namespace hbone::gateway
