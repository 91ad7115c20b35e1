#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "net/descriptor_reserve.h"
#include "net/event_loop.h"
#include "net/fd.h"
#include "net/listen_socket.h"
#include "net/socket_ops.h"
#include "support/socket_address.h"

using namespace hbone::net;
using namespace std::chrono_literals;

namespace {

// Runs the loop without blocking, a turn a millisecond, for `time` or until `done`.
template <typename F>
void turn(EventLoop& loop, std::chrono::milliseconds time, F done) {
  auto deadline = std::chrono::steady_clock::now() + time;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    loop.run_nowait();
    std::this_thread::sleep_for(1ms);
  }
}

// The process's soft descriptor limit, lowered for one test and put back after it.
class LowLimit {
 public:
  explicit LowLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit low = saved_;
    low.rlim_cur = soft;
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  }
  ~LowLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

}  // namespace

TEST(Acceptor, OutOfDescriptorsItPausesInsteadOfSpinningThenResumes) {
  EventLoop loop;
  Fd listener = listen_on({"127.0.0.1", 0});
  sockaddr_storage addr = hbone::test::bound_address(listener.get());
  std::vector<Fd> accepted;
  std::vector<AcceptFailure> failures;
  Acceptor acceptor(
      loop, std::move(listener), [&](Fd fd, const sockaddr_storage&) { accepted.push_back(std::move(fd)); },
      [&](AcceptFailure failure) { failures.push_back(failure); });
  Fd first = hbone::test::connect_to(addr);
  turn(loop, 5s, [&] { return accepted.size() == 1; });
  ASSERT_EQ(accepted.size(), 1u);

  // Every descriptor taken, then a connection waits in the backlog: accept() fails while
  // the listener stays readable. (Quiet meanwhile, after one line: UBSan's first check of
  // a type, such as fmt's buffers, probes memory through a pipe, which a full descriptor
  // table cannot give it.)
  spdlog::info("acceptor test: filling the descriptor table");
  auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);
  Fd waiting(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  std::vector<Fd> fillers;
  {
    LowLimit limit(static_cast<rlim_t>(waiting.get() + 64));
    for (int fd; (fd = ::dup(STDIN_FILENO)) >= 0;) fillers.emplace_back(fd);
    ASSERT_EQ(errno, EMFILE);
    ASSERT_EQ(::connect(waiting.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(sockaddr_in)), 0);
    turn(loop, 300ms, [] { return false; });
    // Back-off 10, 20, 40, 80, 160 ms: a handful of attempts, where watching the listener
    // all along fails on every turn of the loop (~300).
    ASSERT_GE(failures.size(), 1u);
    EXPECT_LE(failures.size(), 10u);
    EXPECT_EQ(failures.front(), AcceptFailure::emfile);
    EXPECT_EQ(accepted.size(), 1u);
    fillers.clear();
    spdlog::set_level(level);
    turn(loop, 5s, [&] { return accepted.size() == 2; });
  }
  EXPECT_EQ(accepted.size(), 2u);  // resumed by itself
}

TEST(DescriptorReserve, KeepsTheLastDescriptors) {
  {
    LowLimit limit(64);
    DescriptorReserve r = DescriptorReserve::current();
    EXPECT_EQ(r.accept_below, 56);  // the last eighth (at least 8)
    EXPECT_EQ(r.dial_below, 60);    // a quarter of that (at least 4)
  }
  rlimit hard{};
  ::getrlimit(RLIMIT_NOFILE, &hard);
  if (hard.rlim_max >= 4096) {
    LowLimit limit(4096);
    DescriptorReserve r = DescriptorReserve::current();
    EXPECT_EQ(r.accept_below, 4096 - 256);  // at most 256
    EXPECT_EQ(r.dial_below, 4096 - 64);
  }
}
