#include "net/edge_poller.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "net/fd.h"
#include "net/listen_socket.h"
#include "net/poll_watcher.h"
#include "net/socket_ops.h"
#include "net/timer.h"
#include "support/socket_address.h"

using namespace hbone::net;
using namespace std::chrono_literals;

namespace {

// A connected TCP pair on loopback: `watched` non-blocking (for the poller), `peer` blocking.
struct Pair {
  Fd watched;
  Fd peer;
};

Pair tcp_pair() {
  Fd listener = listen_on({"127.0.0.1", 0});
  Pair p;
  p.peer = hbone::test::connect_to(hbone::test::bound_address(listener.get()));
  p.watched = Fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  EXPECT_TRUE(p.watched);
  return p;
}

// Counts its calls; `act` runs on each (reads, drains, destroys, ...).
struct Recorder final : IoHandler {
  int calls = 0;
  int last_status = 0;
  int last_events = 0;
  std::function<void()> act;
  void on_io(int status, int events) override {
    ++calls;
    last_status = status;
    last_events = events;
    if (act) act();
  }
};

void turns(EventLoop& loop, int n) {
  for (int i = 0; i < n; ++i) {
    loop.run_nowait();
    std::this_thread::sleep_for(1ms);
  }
}

// Reads what is there; tells the watcher when the socket is empty, as handlers must.
size_t drain(int fd, EdgeWatcher& w, bool* eof = nullptr) {
  char buf[4096];
  size_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      total += static_cast<size_t>(n);
      continue;
    }
    if (n == 0 && eof) *eof = true;
    w.drained(UV_READABLE);
    return total;
  }
}

// One socket of a loopback pair, watched (nothing wanted yet) for a Recorder.
class OneWatchedSocket : public ::testing::Test {
 protected:
  EventLoop loop;
  Pair p = tcp_pair();
  Recorder r;
  EdgeWatcher w{loop.edges(), p.watched.get(), &r};
};

TEST_F(OneWatchedSocket, CallsOncePerEdgeWhileWantedAndAgainWhileNotDrained) {
  w.watch(UV_READABLE);
  turns(loop, 5);
  EXPECT_EQ(r.calls, 0);  // nothing to read yet (the socket is writable: not wanted)

  ASSERT_EQ(::write(p.peer.get(), "abc", 3), 3);
  turns(loop, 5);
  // Not drained: called every turn, as a level-triggered watcher would be.
  EXPECT_GE(r.calls, 3);
  EXPECT_EQ(r.last_events, UV_READABLE);

  r.act = [&] { drain(p.watched.get(), w); };
  turns(loop, 3);
  int after_drain = r.calls;
  turns(loop, 5);
  EXPECT_EQ(r.calls, after_drain);  // empty: quiet until the next edge

  ASSERT_EQ(::write(p.peer.get(), "d", 1), 1);
  turns(loop, 5);
  EXPECT_EQ(r.calls, after_drain + 1);
}

TEST_F(OneWatchedSocket, AReadOfLessThanAskedDrainsAFullOneDoesNot) {
  std::vector<size_t> asked = {4, 4096, 4096};
  r.act = [&] {
    char buf[4096];
    size_t want = asked[static_cast<size_t>(r.calls - 1)];
    w.read_returned(::read(p.watched.get(), buf, want), want);
  };
  ASSERT_EQ(::write(p.peer.get(), "abcdefgh", 8), 8);
  w.watch(UV_READABLE);
  turns(loop, 5);
  // 4 of 4: maybe more (called again); 4 of 4096: empty until the next edge.
  EXPECT_EQ(r.calls, 2);
}

TEST_F(OneWatchedSocket, ReadinessSeenWhileUnwantedIsDeliveredWhenWanted) {
  ASSERT_EQ(::write(p.peer.get(), "abc", 3), 3);
  turns(loop, 5);
  EXPECT_EQ(r.calls, 0);  // not wanted
  r.act = [&] { drain(p.watched.get(), w); };
  w.watch(UV_READABLE);  // no new edge comes: the one seen is kept
  turns(loop, 3);
  EXPECT_EQ(r.calls, 1);
}

TEST_F(OneWatchedSocket, EndOfFileBehindDataIsReadAfterAShortRead) {
  bool eof = false;
  // One read a call, never to EAGAIN: a short read says "empty", but the FIN that came
  // with the data is one more read away and makes no edge of its own.
  r.act = [&] {
    char buf[4096];
    ssize_t n = ::read(p.watched.get(), buf, sizeof(buf));
    if (n == 0) eof = true;
    if (n >= 0 && static_cast<size_t>(n) < sizeof(buf)) w.drained(UV_READABLE);
  };
  ASSERT_EQ(::write(p.peer.get(), "abc", 3), 3);
  ::shutdown(p.peer.get(), SHUT_WR);
  std::this_thread::sleep_for(5ms);  // data and FIN both arrived before the first edge is read
  w.watch(UV_READABLE);
  turns(loop, 10);
  EXPECT_TRUE(eof);
}

TEST_F(OneWatchedSocket, WritableAfterTheSocketDrains) {
  int size = 64 << 10;
  ::setsockopt(p.watched.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  std::string block(1 << 20, 'x');
  while (::send(p.watched.get(), block.data(), block.size(), MSG_DONTWAIT) > 0) {
  }
  w.drained(UV_WRITABLE);  // EAGAIN: full
  w.watch(UV_WRITABLE);
  turns(loop, 5);
  EXPECT_EQ(r.calls, 0);
  // The peer reads everything: an edge.
  std::thread reader([&] {
    std::string buf(1 << 20, '\0');
    ::fcntl(p.peer.get(), F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 50; ++i) {
      while (::read(p.peer.get(), buf.data(), buf.size()) > 0) {
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  turns(loop, 60);
  reader.join();
  EXPECT_GE(r.calls, 1);
  EXPECT_EQ(r.last_events, UV_WRITABLE);
}

TEST(EdgePoller, AWatcherDestroyedByAnotherInTheSameBatchIsNotCalled) {
  EventLoop loop;
  Pair a = tcp_pair(), b = tcp_pair();
  Recorder ra, rb;
  std::optional<EdgeWatcher> wa, wb;
  wa.emplace(loop.edges(), a.watched.get(), &ra);
  wb.emplace(loop.edges(), b.watched.get(), &rb);
  // Whichever is called first destroys the other.
  ra.act = [&] { wb.reset(); drain(a.watched.get(), *wa); };
  rb.act = [&] { wa.reset(); drain(b.watched.get(), *wb); };
  wa->watch(UV_READABLE);
  wb->watch(UV_READABLE);
  ASSERT_EQ(::write(a.peer.get(), "1", 1), 1);
  ASSERT_EQ(::write(b.peer.get(), "2", 1), 1);
  std::this_thread::sleep_for(5ms);  // both ready in one batch
  turns(loop, 5);
  EXPECT_EQ(ra.calls + rb.calls, 1);
}

TEST(EdgePoller, AMovedRegistrationCallsItsNewHandler) {
  EventLoop loop;
  Pair p = tcp_pair();
  Recorder first, second;
  std::optional<EdgeWatcher> dialled;
  dialled.emplace(loop.edges(), p.watched.get(), &first);
  EdgeWatcher taken = EdgeWatcher::adopt(loop.edges(), p.watched.get(), &second, std::move(dialled));
  second.act = [&] { drain(p.watched.get(), taken); };
  taken.watch(UV_READABLE);
  ASSERT_EQ(::write(p.peer.get(), "x", 1), 1);
  turns(loop, 5);
  EXPECT_EQ(first.calls, 0);
  EXPECT_EQ(second.calls, 1);
}

TEST_F(OneWatchedSocket, AResetIsReportedAsAnError) {
  w.watch(UV_READABLE);
  r.act = [&] { w.watch(0); };  // as a handler that closes would
  close_with_reset(p.peer);
  turns(loop, 5);
  EXPECT_EQ(r.calls, 1);
  EXPECT_LT(r.last_status, 0);
  EXPECT_EQ(socket_error(p.watched.get()), ECONNRESET);
}

TEST(EdgePoller, ARegisteredSocketKeepsTheLoopAliveAsItsOwnHandleWould) {
  EventLoop loop;
  loop.edges();
  EXPECT_FALSE(loop.run_nowait());  // the set alone does not
  Pair p = tcp_pair();
  Recorder r;
  {
    EdgeWatcher w(loop.edges(), p.watched.get(), &r);
    EXPECT_TRUE(loop.run_nowait());  // a worker left with only tunnels still runs them
  }
  EXPECT_FALSE(loop.run_nowait());
}

// Once the edge set exists, run() blocks in it; what libuv owns (timers, posted tasks) must
// still wake the loop, as must a socket. A watchdog wakes a loop nothing else woke through
// a socket of its own and stops it, so a failure is a failed check rather than a hang.
class BlockingLoop : public ::testing::Test {
 protected:
  BlockingLoop() {
    alarm_r.act = [this] { loop.stop(); };
    alarm_w.watch(UV_READABLE);
  }
  void run_watched() {
    std::atomic<bool> done{false};
    std::thread watchdog([&] {
      for (int i = 0; i < 500 && !done; ++i) std::this_thread::sleep_for(10ms);
      if (!done) {
        timed_out = true;
        EXPECT_EQ(::write(alarm.peer.get(), "!", 1), 1);
      }
    });
    loop.run();
    done = true;
    watchdog.join();
  }
  EventLoop loop;
  Pair p = tcp_pair();
  Recorder r;
  EdgeWatcher w{loop.edges(), p.watched.get(), &r};  // keeps the loop in the edge set
  Pair alarm = tcp_pair();
  Recorder alarm_r;
  EdgeWatcher alarm_w{loop.edges(), alarm.watched.get(), &alarm_r};
  std::atomic<bool> timed_out{false};
};

TEST_F(BlockingLoop, ATimerWakesIt) {
  bool fired = false;
  Timer timer(loop.uv(), [&] {
    fired = true;
    loop.stop();
  });
  timer.start(20ms);
  run_watched();
  EXPECT_TRUE(fired);
  EXPECT_FALSE(timed_out);
}

TEST_F(BlockingLoop, ATaskPostedFromAnotherThreadWakesIt) {
  bool ran = false;
  std::thread poster([&] {
    std::this_thread::sleep_for(20ms);
    loop.post([&] {
      ran = true;
      loop.stop();
    });
  });
  run_watched();
  poster.join();
  EXPECT_TRUE(ran);
  EXPECT_FALSE(timed_out);
}

TEST_F(BlockingLoop, ASocketWakesIt) {
  w.watch(UV_READABLE);
  r.act = [&] {
    w.watch(0);
    loop.stop();
  };
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    ASSERT_EQ(::write(p.peer.get(), "x", 1), 1);
  });
  run_watched();
  writer.join();
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(timed_out);
}

// A listener that starts accepting from a socket's callback (descriptors freed by a closing
// tunnel): libuv must be let to add it to its set before the loop blocks again.
TEST_F(BlockingLoop, AListenerStartedFromASocketCallbackIsPolled) {
  Fd listener = listen_on({"127.0.0.1", 0});
  sockaddr_storage addr = hbone::test::bound_address(listener.get());
  Recorder accepting;
  accepting.act = [&] { loop.stop(); };
  PollWatcher listening(loop.uv(), listener.get(), &accepting);
  w.watch(UV_READABLE);
  r.act = [&] {
    w.watch(0);
    listening.watch(UV_READABLE);
  };
  std::thread client([&] {
    std::this_thread::sleep_for(20ms);
    ASSERT_EQ(::write(p.peer.get(), "x", 1), 1);
    std::this_thread::sleep_for(20ms);
    Fd s = hbone::test::connect_to(addr);
  });
  run_watched();
  client.join();
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(accepting.calls, 1);
  EXPECT_FALSE(timed_out);
}

}  // namespace
