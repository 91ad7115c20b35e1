#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "address/host_port.h"
#include "gateway/admit.h"
#include "gateway/gateway_stats.h"
#include "net/dialer.h"
#include "policy/authorization.h"
#include "tunnel/tunnel.h"

namespace hbone::gateway {

// One CONNECT request on a gateway connection, from its first HEADERS frame to its end:
// the request as received, the dial of its target, then the tunnel that relays it (one
// object per request, as h2o's lib/handler/connect.c keeps one struct).
class GatewayStream final : public tunnel::Tunnel {
 public:
  struct Request {
    std::string method;
    std::string authority;
    std::string forwarded;
    std::string traceparent;
    size_t header_bytes = 0;  // RFC 9113 §6.5.2 accounting: name + value + 32 per field
  };

  GatewayStream(h2::H2Connection& conn, int32_t stream_id, std::string peer_address);

  // One field of the request's header block; fields beyond `max_bytes` are only counted.
  void add_header(std::string_view name, std::string_view value, size_t max_bytes);
  const Request& request() const { return request_; }

  // The admitted target, dialled once the current input batch is processed.
  void set_pending_target(address::HostPort target) { pending_target_ = std::move(target); }
  std::optional<address::HostPort> take_pending_target() { return std::exchange(pending_target_, {}); }

  // Owns the dial of the target; a reset stream cancels it.
  void start_dial(std::unique_ptr<net::Dialer> dialer) { dialer_ = std::move(dialer); }
  // Called from the dial's own callback: the dialer dies after it returns.
  void dial_done();

  void on_stream_closed(uint32_t error_code) override;

  // The last verdict taken on this request (at request time, then on each address vetted):
  // the destination rule that refused, and the policy that decided (its name copied: the
  // snapshot may go).
  void note(const Verdict& verdict) {
    refusal_ = verdict.refusal;
    decided_by_ = verdict.decision.policy;
    allowed_ = verdict.decision.allowed;
  }
  DestinationRefusal refusal() const { return refusal_; }

  // What gateway.policies decide on: the authority's host and port, and the address dialled
  // (the last candidate checked; once connected, the one in use). Kept to judge the open
  // tunnel again when the policies change.
  struct Destination {
    std::string host;
    uint16_t port = 0;
    sockaddr_storage address{};
  };
  Destination& destination() { return destination_; }
  const Destination& destination() const { return destination_; }
  // The policy that decided on the last verdict ("" without policies) and what it said.
  std::string_view decided_by() const override { return decided_by_; }
  bool allowed() const { return allowed_; }

 private:
  Request request_;
  std::optional<address::HostPort> pending_target_;
  std::unique_ptr<net::Dialer> dialer_;
  DestinationRefusal refusal_ = DestinationRefusal::none;
  Destination destination_;
  std::string decided_by_;
  bool allowed_ = true;
};

}  // namespace hbone::gateway
