// libFuzzer: the gateway's HTTP/2 input. Each input is what a peer sends on one h2c
// connection (tls.plaintext_h2c: the same session wrapper, streams and CONNECT handling as
// over TLS, minus the handshake), through an in-process pipe (net::MemoryPipe: a socket's
// semantics without its system calls) and a real event loop, followed by EOF.
// The only allowed destination is one no input names by chance, so nothing is dialled.
#include <spdlog/spdlog.h>
#include <cstdint>
#include <memory>

#include "config/config.h"
#include "gateway/gateway_connection.h"
#include "metrics/worker_metrics.h"
#include "net/event_loop.h"
#include "net/memory_pipe.h"
#include "net/own_listeners.h"
#include "worker/context.h"
#include "tunnel/admission.h"
#include "tunnel/peer_policy.h"

namespace {

using namespace hbone;

config::Config fuzz_config() {
  config::Config c;
  c.tls.plaintext_h2c = true;
  c.gateway.emplace();
  c.gateway->allowed_destinations = address::DestinationPolicy::parse({"192.0.2.1:9"});  // TEST-NET-1: never dialled by accident
  c.http2.max_concurrent_streams = 16;
  c.http2.keepalive_interval = std::chrono::milliseconds(0);
  return c;
}

struct Fixture {
  Fixture() { spdlog::set_level(spdlog::level::off); }  // a log line per input is the bottleneck
  net::EventLoop loop;
  config::Config config = fuzz_config();
  metrics::WorkerMetrics metrics;
  tunnel::Admission admission{64, 0};
  worker::BufferBudget budget{0};
  worker::BufferGate buffers{loop, budget};
  worker::Context worker{0, loop, config, metrics, buffers};
  std::shared_ptr<const net::OwnListeners> own_listeners = std::make_shared<const net::OwnListeners>();
  gateway::GatewayContext context{worker, tunnel::PeerPolicy::build(config), admission, nullptr, own_listeners};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fx = new Fixture();  // one loop for the whole run, like a worker's
  auto [ours, peer] = net::MemoryPipe::make(fx->loop, 256 * 1024);
  bool closed = false;
  auto conn = std::make_unique<gateway::GatewayConnection>(
      fx->context, [&closed](gateway::GatewayConnection*) { closed = true; });
  conn->start(std::move(ours), "fuzz");
  size_t sent = 0;
  uint8_t sink[65536];
  for (int i = 0; i < 1000 && !closed; ++i) {
    if (sent < size) {
      ssize_t n = peer->write(data + sent, size - sent);
      if (n > 0) sent += static_cast<size_t>(n);
      if (sent == size) peer->shutdown_write();  // then EOF ends the connection
    }
    while (peer->read(sink, sizeof(sink)) > 0) {
    }
    fx->loop.run_nowait();
  }
  if (!closed) conn->close("fuzz input done");
  fx->loop.retire(std::move(conn));
  while (fx->loop.run_nowait()) {
  }
  return 0;
}
