#pragma once

#include <memory>
#include <optional>

#include "client/capture_stats.h"
#include "client/direct_connection.h"
#include "client/pool_set.h"
#include "net/listen_socket.h"
#include "worker/context.h"
#include "tunnel/admission.h"

namespace hbone::client {

// client.capture on one worker: connections that capture rules (scripts/capture.sh)
// redirected here. Each one's original destination picks a client.routes entry: a
// tunnel through that route's gateway (pooled per gateway and identity), or a `direct`
// relay. No route, or hbone's own connection coming back: reset and counted, never
// sent on in the clear.
class CaptureListener {
 public:
  CaptureListener(worker::Context& worker, tunnel::Admission& admission, PoolSet& pools, net::Fd listener);
  void stop_accepting() { acceptor_.reset(); }
  size_t direct_count() const { return direct_.size(); }
  void close_all() { direct_.close_all(); }

 private:
  void on_accept(net::Fd fd, const sockaddr_storage& peer);
  void refuse(net::Fd& fd, CaptureOutcome outcome);

  worker::Context& worker_;
  tunnel::Admission& admission_;
  PoolSet& pools_;
  CaptureStats& stats_;
  sockaddr_storage listen_address_{};
  std::optional<net::Acceptor> acceptor_;
  DirectConnections direct_;
  uint64_t round_robin_ = 0;  // service endpoints picked (decide_mesh)
};

}  // namespace hbone::client
