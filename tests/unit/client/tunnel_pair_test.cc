// A client pool and a gateway server in one process, on one event loop, joined by real
// loopback sockets (HTTP/2 over h2c, as tls.plaintext_h2c): the core's rules tested without
// daemons, the way Envoy's codec tests pair a client and a server codec.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
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
#include "net/socket_ops.h"
#include "worker/context.h"

namespace hbone {
namespace {

using namespace std::chrono_literals;

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

// Non-blocking I/O on a test-held socket, one step per loop turn.
struct Endpoint {
  net::Fd fd;
  std::string to_send;
  size_t sent = 0;
  bool fin_after_send = false;
  bool fin_sent = false;
  bool reading = true;
  std::string received;
  bool eof = false;
  int error = 0;

  void step() {
    while (fd && sent < to_send.size()) {
      ssize_t n = ::send(fd.get(), to_send.data() + sent, to_send.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    if (fd && fin_after_send && !fin_sent && sent == to_send.size()) {
      ::shutdown(fd.get(), SHUT_WR);
      fin_sent = true;
    }
    char buf[65536];
    while (fd && reading && !eof && !error) {
      ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n > 0) {
        received.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        eof = true;
      } else {
        if (errno != EAGAIN) error = errno;
        break;
      }
    }
  }
};

class TunnelPair : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.tls.plaintext_h2c = true;
    config_.http2.keepalive_interval = 0ms;
    config_.gateway.emplace();
    // The targets are on loopback, which a gateway dials only when told to.
    config_.gateway->allowed_destinations = address::DestinationPolicy::parse({"127.0.0.0/8"});
    config_.client.emplace();
  }

  // Starts the gateway and the client pool with the config as it stands.
  void start() {
    net::Fd listener = net::listen_on({"127.0.0.1", 0});
    config_.client->gateway = net::local_address(listener.get());
    policy_ = tunnel::PeerPolicy::build(config_);
    gateway_.emplace(worker_, policy_, admission_, nullptr, own_listeners_, std::move(listener));
    pool_.emplace(worker_, client::Upstream{config_.client->gateway, std::nullopt}, policy_);
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

  // An application connection tunnelled to the target; the target side once accepted.
  struct Tunnel {
    Endpoint app;
    Endpoint target;
  };
  // `n` application connections handed to the pool in one loop turn (so all of them may
  // leave on one connection before the gateway's SETTINGS arrive), each once accepted by
  // the target.
  std::vector<std::unique_ptr<Tunnel>> open_tunnels(size_t n) {
    std::vector<std::unique_ptr<Tunnel>> tunnels;
    std::vector<net::Fd> accepted;
    uint16_t app_port = net::local_address(app_listener_.get()).port;
    for (size_t i = 0; i < n; ++i) {
      tunnels.push_back(std::make_unique<Tunnel>());
      tunnels.back()->app.fd = connect_nonblocking(app_port);
      net::Fd fd;
      EXPECT_TRUE(drive([&] { return (fd = accept_one(app_listener_.get())).get() >= 0; }));
      accepted.push_back(std::move(fd));
    }
    std::string target = net::local_address(target_listener_.get()).to_string();
    for (net::Fd& fd : accepted) pool_->open_tunnel(std::move(fd), {"client", "test", target, 0, {}, ""});
    for (auto& t : tunnels) {
      EXPECT_TRUE(drive([&] { return (t->target.fd = accept_one(target_listener_.get())).get() >= 0; }));
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
};

TEST_F(TunnelPair, RelaysBothWaysWithHalfCloseEachWay) {
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
}

TEST_F(TunnelPair, SlowReaderHoldsTheSenderAtTheStreamWindow) {
  config_.http2.stream_window = 64 << 10;
  config_.http2.connection_window = 1 << 20;
  config_.socket.read_size = 16 << 10;
  start();
  auto t = open_tunnel();
  // More than every socket buffer on the way can hold.
  std::string payload = random_bytes(64 << 20, 3);
  t->app.to_send = payload;
  t->app.fin_after_send = true;
  t->target.reading = false;  // the target reads nothing for now
  // Once the target's socket is full, the gateway holds at most one stream window of
  // received, unwritten bytes: credit goes back only for bytes written on.
  ASSERT_TRUE(drive([&] { return metrics_.stalls[metrics::kClient][metrics::StallScope::stream].value() > 0; }));
  for (int i = 0; i < 200; ++i) drive([] { return true; });
  nlohmann::json tunnels = gateway_tunnels();
  ASSERT_EQ(tunnels.size(), 1u);
  EXPECT_LE(tunnels[0]["buffered_receive"].get<size_t>(), config_.http2.stream_window);
  EXPECT_LT(t->app.sent, payload.size());  // the application is throttled, not buffered
  t->target.reading = true;
  ASSERT_TRUE(drive([&] { return t->target.eof; }));
  EXPECT_EQ(t->target.received, payload);
}

TEST_F(TunnelPair, TargetResetReachesTheApplicationAsReset) {
  start();
  auto t = open_tunnel();
  t->app.to_send = "hello";
  ASSERT_TRUE(drive([&] { return t->target.received == "hello"; }));
  net::close_with_reset(t->target.fd);
  ASSERT_TRUE(drive([&] { return t->app.error != 0 || t->app.eof; }));
  EXPECT_EQ(t->app.error, ECONNRESET);
}

TEST_F(TunnelPair, ExcessStreamIsRefusedAndRetriedOnAnotherConnection) {
  config_.http2.max_concurrent_streams = 1;  // the gateway's limit
  config_.http2.streams_per_connection = 10;
  start();
  // Both tunnels go out on the first connection before the gateway's SETTINGS arrive:
  // the second gets REFUSED_STREAM (never a connection error) and is retried elsewhere.
  auto tunnels = open_tunnels(2);
  Tunnel* first = tunnels[0].get();
  Tunnel* second = tunnels[1].get();
  EXPECT_EQ(metrics_.streams_refused[metrics::kGateway].value(), 1u);
  EXPECT_EQ(pool_->size(), 2u);
  for (auto* t : {first, second}) {
    t->app.to_send = "ping";
    t->target.to_send = "pong";
  }
  ASSERT_TRUE(drive([&] {
    return first->target.received == "ping" && second->target.received == "ping" &&
           first->app.received == "pong" && second->app.received == "pong";
  }));
}

TEST_F(TunnelPair, GoawayMovesNewTunnelsToANewConnectionWhileOpenOnesFinish) {
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

}  // namespace
}  // namespace hbone
