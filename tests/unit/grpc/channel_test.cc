// hbone's gRPC client against Google's own gRPC server (python3-grpcio, a real process on
// loopback, tests/support/grpc_test_server.py): calls of every shape over TLS checked by
// name, and over h2c; statuses, deadlines, flow control, failures of the server and of its
// certificate.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grpc/channel.h"
#include "net/listen_socket.h"
#include "support/child_process.h"
#include "support/test_worker.h"

namespace hbone::grpc {
namespace {

using namespace std::chrono_literals;

constexpr const char* kCerts = "../../certs/dev/";
constexpr const char* kServer = "../support/grpc_test_server.py";
constexpr const char* kIstiod = "istiod.istio-system.svc";

// What one call brought: its messages and, once over, its status.
struct Outcome {
  std::vector<std::string> messages;
  std::optional<Status> status;
};

enum class Transport { tls, h2c };

class ChannelTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    worker_.config.http2.keepalive_interval = 0ms;
    if (!std::filesystem::exists(std::string(kCerts) + "istiod.pem")) GTEST_SKIP() << "no dev certificates";
    std::vector<std::string> argv = {"/usr/bin/python3", kServer};
    if (GetParam() == Transport::tls) {
      argv.insert(argv.end(), {"--tls", std::string(kCerts) + "istiod.pem", std::string(kCerts) + "istiod-key.pem"});
    }
    server_.emplace(argv);
    std::string line = server_->read_line(30s);
    ASSERT_TRUE(line.starts_with("PORT ")) << "the gRPC test server did not start: " << line;
    port_ = static_cast<uint16_t>(std::stoi(line.substr(5)));
  }

  void TearDown() override {
    channel_.reset();
    while (loop_.run_nowait()) {
    }
  }

  ChannelOptions options(const std::string& server_name = kIstiod, const std::string& root = "ca.pem") {
    ChannelOptions o{.target = {"127.0.0.1", port_}, .authority = kIstiod};
    if (GetParam() == Transport::tls) {
      o.tls = std::make_shared<const tls::TlsContext>(tls::ServerAuth{std::string(kCerts) + root, server_name});
    }
    return o;
  }
  Channel& channel() {
    if (!channel_) channel_.emplace(worker_.context, options());
    return *channel_;
  }

  // Starts a call whose outcome lands in `out`.
  Call& call(Channel& channel, CallOptions o, Outcome& out) {
    return channel.start(std::move(o), {.on_message = [&out](std::string&& m) { out.messages.push_back(std::move(m)); },
                                        .on_close = [&out](const Status& s) { out.status = s; }});
  }
  // A unary call, run to its end.
  Outcome unary(const std::string& method, const std::string& request, CallOptions o = {}) {
    Outcome out;
    o.path = "/hbone.test.Echo/" + method;
    Call& c = call(channel(), std::move(o), out);
    c.send(request);
    c.finish_sending();
    EXPECT_TRUE(drive([&] { return out.status.has_value(); }));
    return out;
  }

  bool drive(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      loop_.run_nowait();
      if (done()) return true;
    }
    return false;
  }

  test::TestWorker worker_;
  net::EventLoop& loop_ = worker_.loop;
  std::optional<test::ChildProcess> server_;
  uint16_t port_ = 0;
  std::optional<Channel> channel_;
};

TEST_P(ChannelTest, AUnaryCallEchoes) {
  Outcome out = unary("Unary", "hello");
  ASSERT_TRUE(out.status);
  EXPECT_EQ(out.status->code, Code::ok) << out.status->message;
  EXPECT_EQ(out.messages, std::vector<std::string>{"hello"});
  EXPECT_TRUE(channel().connected());
}

TEST_P(ChannelTest, MetadataAndTheDeadlineReachTheServer) {
  Outcome out = unary("Unary", "metadata", {.metadata = {{"authorization", "Bearer t0ken"}}});
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_NE(out.messages[0].find("authorization=Bearer t0ken\n"), std::string::npos) << out.messages[0];
  EXPECT_NE(out.messages[0].find("user-agent=hbone/"), std::string::npos) << out.messages[0];
  out = unary("Unary", "deadline", {.timeout = 5000ms});
  ASSERT_EQ(out.messages.size(), 1u);
  double left = std::stod(out.messages[0]);
  EXPECT_GT(left, 0);
  EXPECT_LE(left, 5.0);
}

TEST_P(ChannelTest, TheServersStatusAndMessageArrive) {
  Outcome out = unary("Fail", "7 denied: 100% sure, \xc3\xbc");
  ASSERT_TRUE(out.status);
  EXPECT_EQ(out.status->code, Code::permission_denied);
  EXPECT_EQ(out.status->message, "denied: 100% sure, \xc3\xbc");  // percent-encoded on the wire
  EXPECT_TRUE(out.messages.empty());
  out = unary("NoSuchMethod", "x");  // a trailers-only response
  EXPECT_EQ(out.status->code, Code::unimplemented);
}

TEST_P(ChannelTest, ADeadlineEndsTheCall) {
  Outcome out = unary("Slow", "10000", {.timeout = 300ms});
  EXPECT_EQ(out.status->code, Code::deadline_exceeded) << out.status->message;
  // The channel carries on.
  EXPECT_EQ(unary("Unary", "after").messages, std::vector<std::string>{"after"});
}

TEST_P(ChannelTest, ABidirectionalStreamCarriesMessagesBothWaysThenEndsOk) {
  Outcome out;
  Call& c = call(channel(), {.path = "/hbone.test.Echo/Stream", .max_message = 8 << 20}, out);
  for (const char* m : {"one", "two", "three"}) c.send(m);
  ASSERT_TRUE(drive([&] { return out.messages.size() == 3; }));
  EXPECT_EQ(out.messages, (std::vector<std::string>{"one", "two", "three"}));
  // Larger than every window: flow control both ways.
  std::string large(3 << 20, 'q');
  c.send(large);
  c.send("big 5000000");
  ASSERT_TRUE(drive([&] { return out.messages.size() == 5; }));
  EXPECT_EQ(out.messages[3], large);
  EXPECT_EQ(out.messages[4], std::string(5000000, 'x'));
  EXPECT_FALSE(out.status);
  c.finish_sending();
  ASSERT_TRUE(drive([&] { return out.status.has_value(); }));
  EXPECT_EQ(out.status->code, Code::ok) << out.status->message;
}

TEST_P(ChannelTest, TheServerMayEndAStreamTheClientStillSendsOn) {
  Outcome out;
  Call& c = call(channel(), {.path = "/hbone.test.Echo/Stream"}, out);
  c.send("first");
  c.send("end 14 come back later");
  ASSERT_TRUE(drive([&] { return out.status.has_value(); }));
  EXPECT_EQ(out.messages, std::vector<std::string>{"first"});
  EXPECT_EQ(out.status->code, Code::unavailable);
  EXPECT_EQ(out.status->message, "come back later");
  EXPECT_EQ(unary("Unary", "still").messages, std::vector<std::string>{"still"});
}

TEST_P(ChannelTest, AServerStreamArrivesInOrder) {
  Outcome out;
  Call& c = call(channel(), {.path = "/hbone.test.Echo/Count"}, out);
  c.send("1000");
  c.finish_sending();
  ASSERT_TRUE(drive([&] { return out.status.has_value(); }));
  EXPECT_EQ(out.status->code, Code::ok);
  ASSERT_EQ(out.messages.size(), 1000u);
  for (size_t i = 0; i < out.messages.size(); ++i) ASSERT_EQ(out.messages[i], std::to_string(i));
}

TEST_P(ChannelTest, AResponseAboveTheLimitEndsTheCall) {
  Outcome out;
  Call& c = call(channel(), {.path = "/hbone.test.Echo/Stream", .max_message = 1000}, out);
  c.send("big 1001");
  ASSERT_TRUE(drive([&] { return out.status.has_value(); }));
  EXPECT_EQ(out.status->code, Code::resource_exhausted) << out.status->message;
  EXPECT_TRUE(out.messages.empty());
}

TEST_P(ChannelTest, ACancelledCallIsNeverHeardOfAgain) {
  Outcome out;
  Call& c = call(channel(), {.path = "/hbone.test.Echo/Slow"}, out);
  c.send("10000");
  c.finish_sending();
  ASSERT_TRUE(drive([&] { return channel().connected(); }));
  c.cancel();
  EXPECT_EQ(unary("Unary", "next").messages, std::vector<std::string>{"next"});
  EXPECT_FALSE(out.status);
}

TEST_P(ChannelTest, TheServerDyingEndsItsCallsUnavailable) {
  Outcome out;
  Call& c = call(channel(), {.path = "/hbone.test.Echo/Stream"}, out);
  c.send("ping");
  ASSERT_TRUE(drive([&] { return out.messages.size() == 1; }));
  server_->kill();
  ASSERT_TRUE(drive([&] { return out.status.has_value(); }));
  EXPECT_EQ(out.status->code, Code::unavailable);
  EXPECT_NE(out.status->message.find("lost"), std::string::npos) << out.status->message;
  // Nothing listens now: the next call fails to connect, and says so.
  Outcome refused = unary("Unary", "x");
  EXPECT_EQ(refused.status->code, Code::unavailable);
  EXPECT_NE(refused.status->message.find("cannot reach 127.0.0.1:"), std::string::npos) << refused.status->message;
}

TEST_P(ChannelTest, DestroyingTheChannelInsideAHandlerIsSafe) {
  std::optional<Status> first_status;
  Call& first = channel().start({.path = "/hbone.test.Echo/Stream"},
                                {.on_message = [&](std::string&&) { channel_.reset(); },
                                 .on_close = [&](const Status& s) { first_status = s; }});
  Outcome other;
  call(channel(), {.path = "/hbone.test.Echo/Stream"}, other).send("waits");
  ASSERT_TRUE(drive([&] { return other.messages.size() == 1; }));
  first.send("bye");
  ASSERT_TRUE(drive([&] { return !channel_.has_value(); }));
  for (int i = 0; i < 50; ++i) loop_.run_nowait();
  // No handler runs once the channel is gone.
  EXPECT_FALSE(first_status);
  EXPECT_FALSE(other.status);
}

// The test server enforces keepalive as istiod does, scaled down (grpc_test_server.py: a
// PING within 500 ms of the last, or on a connection without calls, is a strike; the third
// ends the connection). A channel pinging at twice the minimum, only while calls are open
// (ChannelOptions::pings at this scale), outlives idle calls and idle connections; the
// control, pinging faster, is cut off in the same run.
TEST_P(ChannelTest, PingsStayWithinTheServersKeepalivePolicy) {
  if (GetParam() == Transport::h2c) GTEST_SKIP() << "the policy is the transport's; once is enough";
  ChannelOptions within = options(), control = options();
  within.pings = {.interval = 1000ms, .timeout = 1000ms, .while_idle = false};
  control.pings = {.interval = 150ms, .timeout = 1000ms, .while_idle = false};
  Channel polite(worker_.context, within), eager(worker_.context, control);
  Outcome kept, cut;
  Call& idle = call(polite, {.path = "/hbone.test.Echo/Stream"}, kept);
  call(eager, {.path = "/hbone.test.Echo/Stream"}, cut);
  auto idle_for = [&](std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    drive([&] { return std::chrono::steady_clock::now() >= until; });
  };
  idle_for(3500ms);  // three PINGs from the polite channel, twenty from the eager one
  ASSERT_TRUE(cut.status) << "the control was not cut off: the server does not enforce its policy";
  EXPECT_EQ(cut.status->code, Code::unavailable) << cut.status->message;
  EXPECT_FALSE(kept.status) << kept.status->message;
  idle.finish_sending();
  ASSERT_TRUE(drive([&] { return kept.status.has_value(); }));
  EXPECT_EQ(kept.status->code, Code::ok) << kept.status->message;
  idle_for(4500ms);  // no call open: no PING (a PING now would be struck at once)
  EXPECT_TRUE(polite.connected());
}

INSTANTIATE_TEST_SUITE_P(Transports, ChannelTest, ::testing::Values(Transport::tls, Transport::h2c),
                         [](const auto& info) { return info.param == Transport::tls ? "tls" : "h2c"; });

// The server's certificate is checked by name and by root, before any call goes out.
class ChannelTlsTest : public ChannelTest {};

TEST_P(ChannelTlsTest, AServerWithAnotherNameIsRefused) {
  channel_.emplace(worker_.context, options("istiod.other-namespace.svc"));
  Outcome out = unary("Unary", "secret");
  EXPECT_EQ(out.status->code, Code::unavailable);
  EXPECT_NE(out.status->message.find("certificate verification failed"), std::string::npos) << out.status->message;
  EXPECT_TRUE(out.messages.empty());
}

TEST_P(ChannelTlsTest, AServerFromAnotherRootIsRefused) {
  channel_.emplace(worker_.context, options(kIstiod, "other-ca.pem"));
  Outcome out = unary("Unary", "secret");
  EXPECT_EQ(out.status->code, Code::unavailable);
  EXPECT_NE(out.status->message.find("certificate verification failed"), std::string::npos) << out.status->message;
}

TEST_P(ChannelTlsTest, AServerExpectedToHoldASpiffeIdMustHaveIt) {
  channel_.emplace(worker_.context, options("spiffe://cluster.local/ns/istio-system/sa/istiod"));
  Outcome out = unary("Unary", "secret");
  EXPECT_EQ(out.status->code, Code::unavailable);
  EXPECT_NE(out.status->message.find("rejected peer"), std::string::npos) << out.status->message;
}

INSTANTIATE_TEST_SUITE_P(Tls, ChannelTlsTest, ::testing::Values(Transport::tls),
                         [](const auto&) { return "tls"; });

// A server that takes the connection and never answers: only the client's own deadline
// ends the call.
TEST(ChannelDeadline, TheClientsOwnDeadlineEndsACallNobodyAnswers) {
  test::TestWorker worker;
  net::EventLoop& loop = worker.loop;
  net::Fd silent = net::listen_on({"127.0.0.1", 0});
  std::optional<Channel> channel;
  channel.emplace(worker.context, ChannelOptions{.target = net::local_address(silent.get())});
  std::optional<Status> status;
  Call& c = channel->start({.path = "/hbone.test.Echo/Unary", .timeout = 200ms},
                           {.on_close = [&](const Status& s) { status = s; }});
  c.send("x");
  c.finish_sending();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!status && std::chrono::steady_clock::now() < deadline) loop.run_nowait();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, Code::deadline_exceeded) << status->message;
  channel.reset();
  while (loop.run_nowait()) {
  }
}

}  // namespace
}  // namespace hbone::grpc
