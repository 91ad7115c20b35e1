#include "net/event_loop.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

namespace hbone::net {
namespace {

// A connection-like object: owned elsewhere, flushed by the loop, retired when it closes.
class Node final : public Flushable, public Retirable {
 public:
  explicit Node(std::function<void(Node&)> on_flush) : on_flush_(std::move(on_flush)) {}
  void flush() override {
    ++flushes;
    on_flush_(*this);
  }
  int flushes = 0;

 private:
  std::function<void(Node&)> on_flush_;
};

// Runs the loop's after-I/O work once: a posted task ends with it.
void run_once(EventLoop& loop) {
  bool ran = false;
  loop.post([&] { ran = true; });
  while (!ran) loop.run_nowait();
}

TEST(EventLoop, FlushRunsOncePerIterationHoweverOftenScheduled) {
  EventLoop loop;
  Node node([](Node&) {});
  loop.schedule_flush(&node);
  loop.schedule_flush(&node);
  run_once(loop);
  EXPECT_EQ(node.flushes, 1);
}

TEST(EventLoop, FlushMayScheduleItselfAgain) {
  EventLoop loop;
  Node node([&loop](Node& self) {
    if (self.flushes < 3) loop.schedule_flush(&self);
  });
  loop.schedule_flush(&node);
  run_once(loop);
  EXPECT_EQ(node.flushes, 3);
}

// The connection case: during flush() a stream close queues the connection again, then a
// write error closes it and it is retired. The retired object must not be destroyed while
// the queue still names it (a use-after-free under ASan before the fix).
TEST(EventLoop, RetiredWhileQueuedIsNeverFlushedAfterDeath) {
  EventLoop loop;
  std::unique_ptr<Node> owner;
  bool closed = false;
  owner = std::make_unique<Node>([&](Node& self) {
    if (closed) return;  // a closed connection's flush does nothing
    loop.schedule_flush(&self);
    closed = true;
    loop.retire(std::move(owner));
  });
  loop.schedule_flush(owner.get());
  run_once(loop);  // the second flush must find the object alive (ASan)
  EXPECT_FALSE(owner);
  EXPECT_TRUE(closed);
}

// A destructor of one retired object may queue a flush of another retired in the same
// batch: the second one leaves the queue when it dies.
TEST(EventLoop, DestroyedObjectLeavesTheFlushQueue) {
  EventLoop loop;
  auto second = std::make_unique<Node>([](Node&) {});
  Node* second_raw = second.get();
  struct Scheduler final : Retirable {
    EventLoop& loop;
    Node* target;
    Scheduler(EventLoop& l, Node* t) : loop(l), target(t) {}
    ~Scheduler() override { loop.schedule_flush(target); }
  };
  loop.retire(std::make_unique<Scheduler>(loop, second_raw));
  loop.retire(std::move(second));
  run_once(loop);  // must not flush `second` after its destruction (ASan)
  SUCCEED();
}

}  // namespace
}  // namespace hbone::net
