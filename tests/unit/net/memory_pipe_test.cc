#include "net/memory_pipe.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <cerrno>
#include <string>
#include <vector>

namespace hbone::net {
namespace {

// Records each readiness call.
struct Recorder : IoHandler {
  std::vector<int> calls;
  void on_io(int, int events) override { calls.push_back(events); }
};

ssize_t write_string(ByteStream& s, const std::string& text) {
  return s.write(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

std::string read_all(ByteStream& s) {
  std::string out;
  uint8_t buf[4096];
  ssize_t n;
  while ((n = s.read(buf, sizeof(buf))) > 0) out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  return out;
}

void settle(EventLoop& loop) {
  while (loop.run_nowait()) {
  }
}

TEST(MemoryPipe, BytesInOrderThenTheEndAfterAFin) {
  EventLoop loop;
  auto [a, b] = MemoryPipe::make(loop, 1024);
  EXPECT_EQ(write_string(*a, "hello "), 6);
  EXPECT_EQ(write_string(*a, "world"), 5);
  a->shutdown_write();
  EXPECT_EQ(read_all(*b), "hello world");
  uint8_t byte;
  EXPECT_EQ(b->read(&byte, 1), 0);  // the end, after the bytes
  errno = 0;
  EXPECT_EQ(write_string(*a, "more"), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(write_string(*b, "reply"), 5);  // the other half is still open
  EXPECT_EQ(read_all(*a), "reply");
}

TEST(MemoryPipe, AFullPipeTakesPartOfAWriteThenSaysEagainUntilRead) {
  EventLoop loop;
  auto [a, b] = MemoryPipe::make(loop, 8);
  EXPECT_EQ(write_string(*a, "0123456789"), 8);
  errno = 0;
  EXPECT_EQ(write_string(*a, "89"), -1);
  EXPECT_EQ(errno, EAGAIN);
  uint8_t buf[3];
  EXPECT_EQ(b->read(buf, 3), 3);
  EXPECT_EQ(write_string(*a, "89"), 2);
  EXPECT_EQ(read_all(*b), "3456789");
  errno = 0;
  EXPECT_EQ(b->read(buf, 3), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(MemoryPipe, ReadinessComesFromTheLoopNotFromTheWritersCall) {
  EventLoop loop;
  auto [a, b] = MemoryPipe::make(loop, 4);
  Recorder reader, writer;
  b->attach(reader);
  b->watch(UV_READABLE);
  a->attach(writer);
  write_string(*a, "abcd");
  EXPECT_TRUE(reader.calls.empty());  // not from inside write()
  settle(loop);
  ASSERT_FALSE(reader.calls.empty());
  EXPECT_EQ(reader.calls.back(), UV_READABLE);
  // The writer, waiting for room, is told once the reader made some.
  a->watch(UV_WRITABLE);
  settle(loop);
  EXPECT_TRUE(writer.calls.empty());  // full
  uint8_t buf[2];
  EXPECT_EQ(b->read(buf, 2), 2);
  settle(loop);
  ASSERT_EQ(writer.calls.size(), 1u);
  EXPECT_EQ(writer.calls[0], UV_WRITABLE);
  b->detach();
  size_t before = reader.calls.size();
  write_string(*a, "ef");
  settle(loop);
  EXPECT_EQ(reader.calls.size(), before);  // detached: no calls
}

TEST(MemoryPipe, AResetDropsUnreadBytesAndFailsThePeersNextCall) {
  EventLoop loop;
  auto [a, b] = MemoryPipe::make(loop, 64);
  write_string(*a, "never read");
  a->close(/*reset=*/true);
  uint8_t buf[16];
  errno = 0;
  EXPECT_EQ(b->read(buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(b->error(), ECONNRESET);
  errno = 0;
  EXPECT_EQ(write_string(*b, "x"), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST(MemoryPipe, ClosingWithUnreadBytesIsAResetAsInTcp) {
  EventLoop loop;
  auto [a, b] = MemoryPipe::make(loop, 64);
  write_string(*b, "unread by a");
  a->close(/*reset=*/false);
  uint8_t buf[16];
  errno = 0;
  EXPECT_EQ(b->read(buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST(MemoryPipe, AnOrderlyCloseIsTheEndAndWritesToItFail) {
  EventLoop loop;
  auto [a, b] = MemoryPipe::make(loop, 64);
  write_string(*a, "last words");
  a.reset();  // destroyed: closed without a reset (b's bytes were all read: none)
  EXPECT_EQ(read_all(*b), "last words");
  uint8_t byte;
  EXPECT_EQ(b->read(&byte, 1), 0);
  errno = 0;
  EXPECT_EQ(write_string(*b, "anyone?"), -1);
  EXPECT_EQ(errno, EPIPE);
}

}  // namespace
}  // namespace hbone::net
