#include "daemon/systemd_notifier.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "net/event_loop.h"
#include "net/fd.h"
#include "net/timer.h"

namespace hbone::daemon {
namespace {

// systemd's side of NOTIFY_SOCKET: a datagram socket the notifier writes to.
class NotifySocket {
 public:
  NotifySocket() : path_("/tmp/hbone-notify-" + std::to_string(::getpid())) {
    ::unlink(path_.c_str());
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path_.copy(address.sun_path, sizeof(address.sun_path) - 1);
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unlink(path_.c_str());
  }
  // Every datagram waiting, joined.
  std::string heard() {
    std::string all;
    char buffer[512];
    ssize_t n;
    while ((n = ::recv(fd_.get(), buffer, sizeof(buffer), 0)) > 0) all.append(buffer, static_cast<size_t>(n));
    return all;
  }

 private:
  std::string path_;
  net::Fd fd_;
};

// A worker's loop: alive as a worker's is (its listeners: here a timer), which libuv needs
// to poll at all; turned only when the test says.
struct WorkerLoop {
  net::EventLoop loop;
  net::Timer alive{loop.uv(), [] {}};
  WorkerLoop() { alive.start(std::chrono::hours(1)); }
  // Runs what was posted to it (its wake-up takes an iteration or two).
  void turn() {
    for (int i = 0; i < 3; ++i) loop.run_nowait();
  }
};

// Turns `main` for a little over one watchdog period (100 ms / 2), and once more after it:
// a tick due within the period fires even if this thread was descheduled past its end.
void one_period(net::EventLoop& main) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(60);
  while (std::chrono::steady_clock::now() < end) {
    main.run_nowait();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  main.run_nowait();
}

TEST(SystemdNotifierTest, ReadyStoppingAndStatusAreSaid) {
  NotifySocket systemd;
  SystemdNotifier::ready();
  EXPECT_NE(systemd.heard().find("READY=1"), std::string::npos);
  SystemdNotifier::stopping();
  EXPECT_NE(systemd.heard().find("STOPPING=1"), std::string::npos);
  SystemdNotifier::status("waiting for a certificate (spiffe_workload_api)");
  EXPECT_EQ(systemd.heard(), "STATUS=waiting for a certificate (spiffe_workload_api)");
}

// WATCHDOG=1 only while every worker's loop turns: a worker that does not run the task of
// the last tick holds back the next ping; once it turns, pings resume.
TEST(SystemdNotifierTest, TheWatchdogPingsOnlyWhileEveryWorkerLoopTurns) {
  NotifySocket systemd;
  ::setenv("WATCHDOG_USEC", "100000", 1);
  net::EventLoop main;
  WorkerLoop turning, stuck;
  SystemdNotifier notifier(main);
  notifier.watch({&turning.loop, &stuck.loop});
  one_period(main);  // the first tick: the main loop's word alone
  EXPECT_NE(systemd.heard().find("WATCHDOG=1"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    turning.turn();
    one_period(main);
    EXPECT_EQ(systemd.heard().find("WATCHDOG=1"), std::string::npos) << "pinged with a worker stuck";
  }
  turning.turn();
  stuck.turn();
  one_period(main);
  EXPECT_NE(systemd.heard().find("WATCHDOG=1"), std::string::npos);
}

TEST(SystemdNotifierTest, NoWatchdogWithoutWatchdogUsec) {
  NotifySocket systemd;
  net::EventLoop main;
  WorkerLoop worker;
  SystemdNotifier notifier(main);
  notifier.watch({&worker.loop});
  worker.turn();
  one_period(main);
  EXPECT_EQ(systemd.heard(), "");
}

}  // namespace
}  // namespace hbone::daemon
