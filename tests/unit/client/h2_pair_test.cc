// A client pool and a gateway server in one process, on one event loop: hbone's own HTTP/2
// roles tested without daemons, the way Envoy's codec tests pair a client and a server codec.
// Each case runs twice: over loopback TCP, and over an in-process MemoryPipe (no socket
// between client and gateway, nor between the application and the client; only the target
// the gateway dials is a socket).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "client/connection_pool.h"
#include "gateway/gateway_server.h"
#include "net/listen_socket.h"
#include "net/memory_pipe.h"
#include "net/socket_ops.h"
#include "tls/tls_context.h"
#include "support/endpoint.h"
#include "worker/context.h"
#include "support/live_reader.h"

using hbone::test::live;

namespace hbone {
namespace {

using namespace std::chrono_literals;
using test::Endpoint;

enum class Link { socket, pipe };

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

net::Fd accept_one(int listener) {
  return net::Fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

net::Fd connect_nonblocking(uint16_t port) {
  net::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  return fd;
}

// The dev PKI (certs/gen.sh, which tests/run.sh runs first), from tests/unit.
constexpr const char* kCerts = "../../certs/dev/";
constexpr const char* kGatewayId = "spiffe://cluster.local/ns/default/sa/gateway";

class H2Pair : public ::testing::TestWithParam<Link> {
 protected:
  void SetUp() override {
    config_.tls.plaintext_h2c = true;
    config_.http2.keepalive_interval = 0ms;
    config_.gateway.emplace();
    // The targets are on loopback, which a gateway dials only when told to.
    live(config_.gateway->allowed_destinations) = address::DestinationPolicy::parse({"127.0.0.0/8"});
    config_.client.emplace();
  }

  bool over_pipe() const { return GetParam() == Link::pipe; }

  // mTLS with the dev gateway certificate on both sides; the client expects `identity`.
  bool use_tls(const std::string& identity) {
    if (!std::filesystem::exists(std::string(kCerts) + "ca.pem")) return false;
    config_.tls.plaintext_h2c = false;
    live(config_.tls.cert) = std::string(kCerts) + "gateway.pem";
    live(config_.tls.key) = std::string(kCerts) + "gateway-key.pem";
    live(config_.tls.ca) = std::string(kCerts) + "ca.pem";
    live(config_.client->gateway_identity) = identity;
    return true;
  }

  // Starts the gateway and the client pool with the config as it stands.
  void start() {
    net::Fd listener = net::listen_on({"127.0.0.1", 0});
    config_.client->gateway = net::local_address(listener.get());
    policy_ = tunnel::PeerPolicy::build(config_);
    if (records_per_key_) {
      // The same certificates, rekeying every few records.
      auto rekeying = std::make_shared<tunnel::PeerPolicy>(*policy_);
      for (auto [context, role] : {std::pair{&rekeying->server_tls, tls::TlsContext::Role::server},
                                   {&rekeying->client_tls, tls::TlsContext::Role::client}}) {
        *context = std::make_shared<const tls::TlsContext>(policy_->tls_files, role, (*context)->own_record_layer(),
                                                           records_per_key_);
      }
      policy_ = rekeying;
    }
    gateway_.emplace(worker_, policy_, admission_, nullptr, own_listeners_, std::move(listener));
    client::ConnectionPool::Carrier carrier;
    if (over_pipe()) {
      // Each pooled connection is one end of a pipe; the gateway serves the other.
      carrier = [this](client::ClientConnection::Local local, tunnel::Tunnel::Info) {
        ++piped_;
        gateway_->serve(std::move(local), "memory pipe");
      };
    }
    pool_.emplace(worker_, client::Upstream{config_.client->gateway, std::nullopt}, policy_, std::move(carrier));
    target_listener_ = net::listen_on({"127.0.0.1", 0});
    app_listener_ = net::listen_on({"127.0.0.1", 0});
  }

  void TearDown() override {
    pool_.reset();
    gateway_.reset();
    while (loop_.run_nowait()) {
    }
  }

  // Runs the loop (and the endpoints) until `done`; false after a deadline far above what
  // any step takes even under sanitizers.
  bool drive(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      loop_.run_nowait();
      for (Endpoint* e : endpoints_) e->step();
      if (done()) return true;
    }
    return false;
  }
  void turns(int n) {
    for (int i = 0; i < n; ++i) drive([] { return true; });
  }

  // An application's connection: the side the pool takes, and the application's end.
  std::pair<client::ClientConnection::Local, std::unique_ptr<net::ByteStream>> app_connection() {
    if (over_pipe()) return net::MemoryPipe::make(loop_, 256 << 10);
    net::Fd app = connect_nonblocking(net::local_address(app_listener_.get()).port);
    net::Fd accepted;
    EXPECT_TRUE(drive([&] { return (accepted = accept_one(app_listener_.get())).get() >= 0; }));
    return {worker_.socket_stream(std::move(accepted), worker::Context::SocketUse::local),
            std::make_unique<net::SocketStream>(loop_.edges(), std::move(app))};
  }

  // An application connection tunnelled to the target; the target side once accepted.
  struct Tunnel {
    Endpoint app;
    Endpoint target;
  };
  // `n` application connections handed to the pool in one loop turn (so all of them may
  // leave on one connection before the gateway's SETTINGS arrive), each once accepted by
  // the target (none if `accepted` is false). `just_before` runs once the applications
  // connected, in the turn the pool gets them.
  std::vector<std::unique_ptr<Tunnel>> open_tunnels(size_t n, bool accepted = true,
                                                    const std::function<void()>& just_before = {}) {
    std::vector<std::unique_ptr<Tunnel>> tunnels;
    std::vector<client::ClientConnection::Local> locals;
    for (size_t i = 0; i < n; ++i) {
      auto t = std::make_unique<Tunnel>();
      auto [local, app] = app_connection();
      t->app.stream = std::move(app);
      locals.push_back(std::move(local));
      tunnels.push_back(std::move(t));
    }
    std::string target = net::local_address(target_listener_.get()).to_string();
    if (just_before) just_before();
    for (auto& local : locals) pool_->open_tunnel(std::move(local), {"client", "test", target, 0, {}, ""});
    for (auto& t : tunnels) {
      net::Fd fd;
      if (accepted) {
        EXPECT_TRUE(drive([&] { return (fd = accept_one(target_listener_.get())).get() >= 0; }));
      }
      if (fd) t->target.stream = std::make_unique<net::SocketStream>(loop_.edges(), std::move(fd));
      endpoints_.push_back(&t->app);
      endpoints_.push_back(&t->target);
    }
    return tunnels;
  }
  std::unique_ptr<Tunnel> open_tunnel() { return std::move(open_tunnels(1)[0]); }

  nlohmann::json gateway_tunnels() {
    nlohmann::json all = nlohmann::json::array();
    gateway_->for_each_connection([&](h2::H2Connection& conn) {
      nlohmann::json c;
      conn.describe(c);
      for (auto& t : c["tunnels"]) all.push_back(t);
    });
    return all;
  }

  // Sends `up` and `down` over `t` with a FIN each way, and checks what arrived.
  void exchange(Tunnel& t, const std::string& up, const std::string& down) {
    t.app.to_send = up;
    t.app.fin_after_send = true;
    t.target.to_send = down;
    t.target.fin_after_send = true;
    ASSERT_TRUE(drive([&] { return t.app.eof && t.target.eof; }));
    EXPECT_EQ(t.target.received, up);
    EXPECT_EQ(t.app.received, down);
  }

  net::EventLoop loop_;
  config::Config config_;
  metrics::WorkerMetrics metrics_;
  tunnel::Admission admission_{0, 0};
  std::shared_ptr<const net::OwnListeners> own_listeners_ = std::make_shared<const net::OwnListeners>();
  worker::BufferBudget budget_{0};
  worker::BufferGate buffers_{loop_, budget_};
  worker::Context worker_{0, loop_, config_, metrics_, buffers_};
  std::shared_ptr<const tunnel::PeerPolicy> policy_;
  std::optional<gateway::GatewayServer> gateway_;
  std::optional<client::ConnectionPool> pool_;
  net::Fd target_listener_;
  net::Fd app_listener_;
  std::vector<Endpoint*> endpoints_;
  int piped_ = 0;  // connections that went over a pipe
  uint64_t records_per_key_ = 0;  // TLS records under one key (0: TlsContext's)
};

TEST_P(H2Pair, RelaysBothWaysWithHalfCloseEachWay) {
  start();
  auto t = open_tunnel();
  std::string up = random_bytes(3 << 20, 1), down = random_bytes(2 << 20, 2);
  // The application sends and half-closes; the target still answers afterwards.
  t->app.to_send = up;
  t->app.fin_after_send = true;
  ASSERT_TRUE(drive([&] { return t->target.eof; }));
  EXPECT_EQ(t->target.received, up);
  EXPECT_FALSE(t->app.eof);  // only one half is closed
  t->target.to_send = down;
  t->target.fin_after_send = true;
  ASSERT_TRUE(drive([&] { return t->app.eof; }));
  EXPECT_EQ(t->app.received, down);
  ASSERT_TRUE(drive([&] { return metrics_.tunnels_active[metrics::kGateway].value() == 0; }));
  EXPECT_EQ(pool_->size(), 1u);
  EXPECT_EQ(piped_, over_pipe() ? 1 : 0);
}

TEST_P(H2Pair, SlowReaderHoldsTheSenderAtTheStreamWindow) {
  config_.http2.stream_window = 64 << 10;
  config_.http2.connection_window = 1 << 20;
  config_.socket.read_size = 16 << 10;
  start();
  auto t = open_tunnel();
  // More than every buffer on the way can hold.
  std::string payload = random_bytes(64 << 20, 3);
  t->app.to_send = payload;
  t->app.fin_after_send = true;
  t->target.reading = false;  // the target reads nothing for now
  // Once the target's socket is full, the gateway holds at most one stream window of
  // received, unwritten bytes: credit goes back only for bytes written on.
  ASSERT_TRUE(drive([&] { return metrics_.layers.get<tunnel::TunnelStats>().stalls[metrics::kClient][tunnel::StallScope::stream].value() > 0; }));
  turns(200);
  nlohmann::json tunnels = gateway_tunnels();
  ASSERT_EQ(tunnels.size(), 1u);
  EXPECT_LE(tunnels[0]["buffered_receive"].get<size_t>(), config_.http2.stream_window);
  EXPECT_LT(t->app.sent, payload.size());  // the application is throttled, not buffered
  t->target.reading = true;
  ASSERT_TRUE(drive([&] { return t->target.eof; }));
  EXPECT_EQ(t->target.received, payload);
}

TEST_P(H2Pair, OneStalledStreamLeavesTheOthersFlowing) {
  config_.http2.stream_window = 64 << 10;
  config_.http2.connection_window = 1 << 20;
  start();
  auto tunnels = open_tunnels(2);
  Tunnel& stalled = *tunnels[0];
  Tunnel& flowing = *tunnels[1];
  std::string parked = random_bytes(16 << 20, 4);
  stalled.app.to_send = parked;
  stalled.target.reading = false;
  ASSERT_TRUE(drive([&] { return metrics_.layers.get<tunnel::TunnelStats>().stalls[metrics::kClient][tunnel::StallScope::stream].value() > 0; }));
  // A stalled stream holds its own window, never the connection's: the other goes on.
  exchange(flowing, random_bytes(4 << 20, 5), random_bytes(1 << 20, 6));
  EXPECT_EQ(pool_->size(), 1u);
  EXPECT_LT(stalled.target.received.size() + (4 << 20), parked.size());
  stalled.target.reading = true;
  ASSERT_TRUE(drive([&] { return stalled.target.received.size() == parked.size(); }));
  EXPECT_EQ(stalled.target.received, parked);
}

TEST_P(H2Pair, ManyStreamsInterleaveOnOneConnection) {
  start();
  auto tunnels = open_tunnels(16);
  for (size_t i = 0; i < tunnels.size(); ++i) {
    tunnels[i]->app.to_send = random_bytes(512 << 10, 100 + static_cast<unsigned>(i));
    tunnels[i]->app.fin_after_send = true;
    tunnels[i]->target.to_send = random_bytes(256 << 10, 200 + static_cast<unsigned>(i));
    tunnels[i]->target.fin_after_send = true;
  }
  ASSERT_TRUE(drive([&] {
    for (auto& t : tunnels) {
      if (!t->app.eof || !t->target.eof) return false;
    }
    return true;
  }));
  for (auto& t : tunnels) {
    EXPECT_EQ(t->target.received, t->app.to_send);
    EXPECT_EQ(t->app.received, t->target.to_send);
  }
  EXPECT_EQ(pool_->size(), 1u);
}

TEST_P(H2Pair, TargetResetReachesTheApplicationAsReset) {
  start();
  auto t = open_tunnel();
  t->app.to_send = "hello";
  ASSERT_TRUE(drive([&] { return t->target.received == "hello"; }));
  t->target.reset();
  ASSERT_TRUE(drive([&] { return t->app.error != 0 || t->app.eof; }));
  EXPECT_EQ(t->app.error, ECONNRESET);
}

TEST_P(H2Pair, ApplicationResetReachesTheTargetAsReset) {
  start();
  auto t = open_tunnel();
  t->target.to_send = "hello";
  ASSERT_TRUE(drive([&] { return t->app.received == "hello"; }));
  t->app.reset();
  ASSERT_TRUE(drive([&] { return t->target.error != 0 || t->target.eof; }));
  EXPECT_EQ(t->target.error, ECONNRESET);
  ASSERT_TRUE(drive([&] { return metrics_.tunnels_active[metrics::kGateway].value() == 0; }));
}

TEST_P(H2Pair, ExcessStreamIsRefusedAndRetriedOnAnotherConnection) {
  config_.http2.max_concurrent_streams = 1;  // the gateway's limit
  config_.http2.streams_per_connection = 10;
  start();
  // Both tunnels go out on the first connection before the gateway's SETTINGS arrive:
  // the second gets REFUSED_STREAM (never a connection error) and is retried elsewhere.
  auto tunnels = open_tunnels(2);
  EXPECT_EQ(metrics_.streams_refused[metrics::kGateway].value(), 1u);
  EXPECT_EQ(pool_->size(), 2u);
  for (auto& t : tunnels) {
    t->app.to_send = "ping";
    t->target.to_send = "pong";
  }
  ASSERT_TRUE(drive([&] {
    return tunnels[0]->target.received == "ping" && tunnels[1]->target.received == "ping" &&
           tunnels[0]->app.received == "pong" && tunnels[1]->app.received == "pong";
  }));
}

TEST_P(H2Pair, GoawayMovesNewTunnelsToANewConnectionWhileOpenOnesFinish) {
  start();
  auto old = open_tunnel();
  gateway_->for_each_connection([](h2::H2Connection& conn) { conn.drain(); });
  ASSERT_TRUE(drive([&] {
    bool draining = false;
    pool_->for_each_connection([&](h2::H2Connection& conn) { draining = conn.draining(); });
    return draining;
  }));
  auto fresh = open_tunnel();
  EXPECT_EQ(pool_->size(), 2u);
  for (auto* t : {old.get(), fresh.get()}) {
    t->app.to_send = "data";
    t->app.fin_after_send = true;
    t->target.to_send = "back";
    t->target.fin_after_send = true;
  }
  ASSERT_TRUE(drive([&] { return old->app.eof && fresh->app.eof; }));
  EXPECT_EQ(old->app.received, "back");
  EXPECT_EQ(fresh->app.received, "back");
  // The drained connection closes once its last stream ended.
  ASSERT_TRUE(drive([&] { return pool_->size() == 1; }));
}

TEST_P(H2Pair, AStreamCrossingTheGoawayIsRetriedElsewhere) {
  start();
  auto old = open_tunnel();
  // The gateway's GOAWAY (last stream: the open one) and the client's next HEADERS cross:
  // that stream is beyond the GOAWAY, never processed, and goes out again on a new connection.
  auto crossing = open_tunnels(1, /*accepted=*/false, [this] {
    gateway_->for_each_connection([](h2::H2Connection& conn) { conn.drain(); });
  });
  Tunnel& late = *crossing[0];
  net::Fd fd;
  ASSERT_TRUE(drive([&] { return (fd = accept_one(target_listener_.get())).get() >= 0; }));
  late.target.stream = std::make_unique<net::SocketStream>(loop_.edges(), std::move(fd));
  EXPECT_EQ(pool_->size(), 2u);
  exchange(late, "late", "answered");
  exchange(*old, "old", "finished");
  ASSERT_TRUE(drive([&] { return pool_->size() == 1; }));
}

TEST_P(H2Pair, ALostConnectionResetsItsTunnelsAndTheNextOneDialsAgain) {
  start();
  auto gone = open_tunnel();
  exchange(*gone, "", "");  // established, then both halves closed: nothing left open
  auto open = open_tunnel();
  open->app.to_send = "before";
  ASSERT_TRUE(drive([&] { return open->target.received == "before"; }));
  gateway_->for_each_connection([](h2::H2Connection& conn) { conn.close("test: connection lost"); });
  ASSERT_TRUE(drive([&] { return open->app.error != 0; }));
  EXPECT_EQ(open->app.error, ECONNRESET);
  ASSERT_TRUE(drive([&] { return pool_->size() == 0; }));
  auto next = open_tunnel();
  exchange(*next, "after", "works");
  EXPECT_EQ(pool_->size(), 1u);
}

TEST_P(H2Pair, MutualTlsCarriesTheTunnelAndNamesThePeer) {
  if (!use_tls(kGatewayId)) GTEST_SKIP() << "no dev certificates: run certs/gen.sh";
  start();
  auto t = open_tunnel();
  exchange(*t, random_bytes(1 << 20, 7), random_bytes(1 << 20, 8));
  std::string identity;
  pool_->for_each_connection([&](h2::H2Connection& conn) { identity = conn.peer_identity(); });
  EXPECT_EQ(identity, kGatewayId);
  EXPECT_EQ(metrics_.layers.get<h2::HandshakeStats>().tls_handshakes[metrics::kClient][h2::TlsResult::ok].value(), 1u);
}

TEST_P(H2Pair, KeyUpdatesEveryFewRecordsLoseNothing) {
  if (!use_tls(kGatewayId)) GTEST_SKIP() << "no dev certificates: run certs/gen.sh";
  records_per_key_ = 16;
  start();
  auto t = open_tunnel();
  // Some 256 full records each way: a KeyUpdate every 16 from both sides, amid the data.
  exchange(*t, random_bytes(4 << 20, 9), random_bytes(4 << 20, 10));
  // The own record layer (BoringSSL builds) counts them; SSL_write's are the library's.
  nlohmann::json c;
  pool_->for_each_connection([&](h2::H2Connection& conn) { conn.describe(c); });
  if (c.contains("tls_records")) {
    EXPECT_GE(c["tls_records"]["key_updates_sent"].get<uint64_t>(), 16u) << c.dump();
    EXPECT_GE(c["tls_records"]["key_updates_received"].get<uint64_t>(), 16u) << c.dump();
  }
}

TEST_P(H2Pair, AGatewayWithAnotherIdentityGetsNoTunnel) {
  if (!use_tls("spiffe://cluster.local/ns/default/sa/someone-else")) GTEST_SKIP() << "no dev certificates";
  start();
  auto t = open_tunnels(1, /*accepted=*/false);
  t[0]->app.to_send = "secret";
  ASSERT_TRUE(drive([&] { return t[0]->app.error != 0 || t[0]->app.eof; }));
  turns(20);
  EXPECT_LT(accept_one(target_listener_.get()).get(), 0);  // never dialled
  EXPECT_EQ(metrics_.tunnels_active[metrics::kGateway].value(), 0);
}

INSTANTIATE_TEST_SUITE_P(Links, H2Pair, ::testing::Values(Link::socket, Link::pipe),
                         [](const auto& info) { return info.param == Link::socket ? "Socket" : "Pipe"; });

}  // namespace
}  // namespace hbone
