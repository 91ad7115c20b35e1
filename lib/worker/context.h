#pragma once

#include "config/config.h"
#include "metrics/worker_metrics.h"
#include "net/dialer.h"
#include "net/event_loop.h"
#include "net/listen_socket.h"
#include "net/socket_stream.h"
#include "worker/buffer_budget.h"

namespace hbone::worker {

// What every object on one worker shares: its loop, the config, its metrics and its side of
// the buffer budget.
struct Context {
  unsigned index;
  net::EventLoop& loop;
  const config::Config& config;
  metrics::WorkerMetrics& metrics;
  BufferGate& buffers;
  // limits.idle_timeout of the live snapshot in force (set by the worker, on its loop;
  // 0: never).
  std::chrono::milliseconds idle_timeout{};

  // The descriptor reserve's dial limit, read once when the worker starts (after the
  // daemon raised its limit): not a getrlimit() per dial.
  int dial_below = std::numeric_limits<int>::max();

  // Where dials get their sockets: empty, socket() on this thread; a node proxy's pod, its
  // network namespace (each pod's objects hold a Context of their own).
  net::SocketSource sockets = {};
  // A pod's inbound (a node proxy's): its dials to the app come from the peer's own address
  // (DialOptions::from), as ztunnel's do, so the app sees who connected.
  bool original_source = false;
  // What every dial of this worker uses: the role's connect timeout, socket.mark (capture
  // rules skip marked sockets), the descriptor reserve and the socket source; socket.*
  // options follow on the connected socket.
  net::DialOptions dial_options(std::chrono::milliseconds timeout) const {
    return {timeout, config.socket.mark, dial_below, sockets};
  }

  // A socket this worker accepted or dialled (with its dial's registration, if any), as a
  // stream, with socket.* set as its use wants: the owner of a socket sets its options.
  enum class SocketUse {
    local,  // a tunnel's local side: buffers and TCP_NODELAY
    hbone,  // an HBONE connection: also keepalive, TCP_USER_TIMEOUT, TCP_NOTSENT_LOWAT
  };
  std::unique_ptr<net::SocketStream> socket_stream(net::Fd fd, SocketUse use,
                                                   std::optional<net::EdgeWatcher> dialled = std::nullopt) const;

  // Counts a listener's accept() failures into this worker's metrics.
  net::Acceptor::OnError accept_errors() const {
    return [&errors = metrics.accept_errors](net::AcceptFailure failure) { errors[failure].add(); };
  }
};

}  // namespace hbone::worker
