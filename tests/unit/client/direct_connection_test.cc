// A `direct` route's relay in one process: the application's end is a MemoryPipe, the
// destination a loopback listener the relay dials.

#include "client/direct_connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "net/listen_socket.h"
#include "net/memory_pipe.h"
#include "net/socket_stream.h"
#include "support/endpoint.h"
#include "support/socket_address.h"
#include "support/test_worker.h"

namespace hbone::client {
namespace {

using namespace std::chrono_literals;
using test::Endpoint;

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

class DirectRelay : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.client.emplace();
    config_.socket.mark = 0;
    // Small socket buffers: what the relay holds, not what the kernel does, is under test.
    config_.socket.send_buffer = config_.socket.recv_buffer = 32 << 10;
    target_listener_ = net::listen_on({"127.0.0.1", 0});
    int small = 32 << 10;
    ::setsockopt(target_listener_.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  }
  void TearDown() override {
    relay_.reset();
    while (loop_.run_nowait()) {
    }
  }

  // The relay, dialling the target; the application's and the target's ends once connected.
  void open() {
    auto [relay_end, app_end] = net::MemoryPipe::make(loop_, 256 << 10);
    app_.stream = std::move(app_end);
    relay_ = std::make_unique<DirectConnection>(worker_, std::move(relay_end),
                                                test::bound_address(target_listener_.get()),
                                                DirectConnection::Info{"app", "target", "test", {}},
                                                [this](DirectConnection*) { ++done_; });
    net::Fd accepted;
    ASSERT_TRUE(drive([&] {
      accepted = net::Fd(::accept4(target_listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      return accepted.get() >= 0;
    }));
    target_.stream = std::make_unique<net::SocketStream>(loop_.edges(), std::move(accepted));
  }

  bool drive(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      loop_.run_nowait();
      app_.step();
      target_.step();
      peak_ = std::max(peak_, budget_.used());
      if (done()) return true;
    }
    return false;
  }

  test::TestWorker test_worker_;
  net::EventLoop& loop_ = test_worker_.loop;
  config::Config& config_ = test_worker_.config;
  worker::BufferBudget& budget_ = test_worker_.budget;
  metrics::WorkerMetrics& metrics_ = test_worker_.metrics;
  worker::Context& worker_ = test_worker_.context;
  net::Fd target_listener_;
  std::unique_ptr<DirectConnection> relay_;
  Endpoint app_;
  Endpoint target_;
  int done_ = 0;
  int64_t peak_ = 0;
};

TEST_F(DirectRelay, RelaysBothWaysWithHalfCloseEachWay) {
  open();
  std::string up = random_bytes(3 << 20, 1), down = random_bytes(2 << 20, 2);
  app_.to_send = up;
  app_.fin_after_send = true;
  ASSERT_TRUE(drive([&] { return target_.eof; }));
  EXPECT_EQ(target_.received, up);
  EXPECT_FALSE(app_.eof);  // only one half is closed
  target_.to_send = down;
  target_.fin_after_send = true;
  ASSERT_TRUE(drive([&] { return app_.eof && done_ == 1; }));
  EXPECT_EQ(app_.received, down);
  EXPECT_EQ(app_.error, 0);
  EXPECT_EQ(budget_.used(), 0);  // its buffers given back
  EXPECT_EQ(metrics_.buffered_bytes[metrics::kClient].value(), 0);
}

TEST_F(DirectRelay, AResetIsCarriedAcrossAsAReset) {
  open();
  app_.to_send = "hello";
  ASSERT_TRUE(drive([&] { return target_.received == "hello"; }));
  target_.reset();
  ASSERT_TRUE(drive([&] { return app_.error != 0; }));
  EXPECT_EQ(app_.error, ECONNRESET);
  EXPECT_EQ(done_, 1);
}

TEST_F(DirectRelay, AtTheBudgetADirectionThatHoldsBytesStopsReading) {
  constexpr int64_t kLimit = 64 << 10;
  budget_.set_limit(kLimit);
  config_.socket.read_size = 256 << 10;
  open();
  std::string up = random_bytes(8 << 20, 3);
  app_.to_send = up;
  app_.fin_after_send = true;
  target_.reading = false;  // a destination that takes nothing for now
  ASSERT_TRUE(drive([&] { return metrics_.budget_deferrals[metrics::kClient].value() > 0; }));
  auto settle = std::chrono::steady_clock::now() + 300ms;  // a while longer: still stopped
  drive([&] { return std::chrono::steady_clock::now() > settle; });
  EXPECT_LT(app_.sent, up.size());
  // Within the budget, give or take one small read.
  EXPECT_LE(peak_, kLimit + static_cast<int64_t>(worker::BufferCharge::kSmallRead));
  target_.reading = true;
  ASSERT_TRUE(drive([&] { return target_.eof; }));
  EXPECT_EQ(target_.received, up);
}

}  // namespace
}  // namespace hbone::client
