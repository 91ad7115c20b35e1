#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/upstream.h"
#include "h2/h2_connection.h"
#include "net/dialer.h"
#include "tunnel/peer_policy.h"
#include "tunnel/tunnel.h"

namespace hbone::client {

using tunnel::PeerPolicy;
using tunnel::Tunnel;

// Client side of one pooled HBONE connection to the gateway: one CONNECT stream per
// accepted local connection. Tunnels opened while the connection is still dialling or
// handshaking wait in a queue and are sent once it is ready.
class ClientConnection final : public h2::H2Connection {
 public:
  using OnClosed = std::function<void(ClientConnection*)>;
  // A tunnel's local side.
  using Local = std::unique_ptr<net::ByteStream>;
  // Places a local connection on some pooled connection (the pool's job).
  using Reopen = std::function<void(Local, Tunnel::Info)>;
  // Double HBONE: takes the outer end of an in-process pipe and carries it in a tunnel.
  using Carrier = std::function<void(Local, Tunnel::Info)>;
  ClientConnection(worker::Context& worker, Upstream upstream, std::shared_ptr<const PeerPolicy> policy,
                   OnClosed on_closed, Reopen reopen, Carrier carrier = {});

  // Dials the upstream gateway (or, double HBONE, has a tunnel carry the connection to it)
  // and starts the handshake.
  void connect();
  void open_tunnel(Local local, Tunnel::Info info);

  // Tunnels on this connection, sent or waiting.
  size_t load() const { return stream_count() + pending_.size(); }
  bool has_capacity() const;
  // True once it has carried no tunnel for `timeout` (asked about once a second).
  bool idle_for(std::chrono::steady_clock::time_point now, std::chrono::milliseconds timeout);

  int on_header(const nghttp2_frame* frame, std::string_view name,
                std::string_view value) override;

 protected:
  bool verify_peer(tls::TlsSession& tls, std::string& why) override;
  void describe_role(nlohmann::json& out) const override;
  void on_ready() override;
  bool has_waiting_streams() const override { return !pending_.empty(); }
  void on_headers_complete(const nghttp2_frame* frame) override;
  void on_closed(const std::string& reason) override;
  bool retry_unanswered(int32_t stream_id) override;

 private:
  void submit(std::unique_ptr<Tunnel> tunnel);
  // client.max_tunnels_per_connection tunnels were placed here: it takes no more.
  bool spent() const;
  void drain_if_spent();
  Tunnel* tunnel(int32_t stream_id) const;

  Upstream upstream_;
  std::shared_ptr<const PeerPolicy> policy_;
  OnClosed on_closed_;
  Reopen reopen_;
  Carrier carrier_;
  std::unique_ptr<net::Dialer> dialer_;
  std::vector<std::unique_ptr<Tunnel>> pending_;
  bool overflow_ = false;  // the dial failed for lack of descriptors
  uint32_t taken_ = 0;     // tunnels placed here (client.max_tunnels_per_connection)
  // Double HBONE: lets the carrier tunnel (another connection's stream, which may outlive
  // this connection) reach it while it exists.
  std::shared_ptr<ClientConnection* const> self_ = std::make_shared<ClientConnection* const>(this);
  std::optional<std::chrono::steady_clock::time_point> idle_since_;
};

}  // namespace hbone::client
