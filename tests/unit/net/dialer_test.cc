#include "net/dialer.h"
#include "net/socket_ops.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hbone::net {
namespace {

using namespace std::chrono_literals;

// A bound loopback TCP socket: listening (connects succeed) or not (connects are refused).
struct LoopbackPort {
  explicit LoopbackPort(bool listening) : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    if (listening) {
      EXPECT_EQ(::listen(fd.get(), 8), 0);
    }
    address.length = sizeof(sockaddr_in);
    std::memcpy(&address.storage, &addr, sizeof(addr));
    port = ntohs(addr.sin_port);
  }
  Fd fd;
  SocketAddress address;
  uint16_t port = 0;
};

DialResult dial(EventLoop& loop, std::vector<SocketAddress> candidates,
                Dialer::AddressCheck allow = nullptr, DialOptions options = {5s}) {
  std::optional<DialResult> result;
  Dialer dialer(loop, std::move(candidates), std::move(options), std::move(allow),
                [&](DialResult r) { result = std::move(r); });
  while (!result) loop.run_nowait();
  return std::move(*result);
}

uint16_t port_of(const sockaddr_storage& addr) {
  return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
}

TEST(Dialer, TriesEveryAddressUntilOneConnects) {
  EventLoop loop;
  LoopbackPort closed(false), open(true);
  DialResult r = dial(loop, {closed.address, open.address});
  EXPECT_EQ(r.failure, DialFailure::none) << r.detail;
  EXPECT_TRUE(r.fd);
  EXPECT_EQ(port_of(r.address), open.port);
}

TEST(Dialer, DialsFromThePeersAddress) {
  // 127.0.0.2 stands for the peer: a loopback address, so its replies come back here
  // without the in-pod rules a foreign one needs. (Never from the peer's port:
  // test_inpod.py, where a namespace's port range can leave no other.)
  EventLoop loop;
  LoopbackPort open(true);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.2", &peer.sin_addr);
  DialOptions options{5s};
  options.from.emplace();
  std::memcpy(&*options.from, &peer, sizeof(peer));
  DialResult r = dial(loop, {open.address}, nullptr, options);
  ASSERT_EQ(r.failure, DialFailure::none) << r.detail;
  Fd accepted(::accept4(open.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  sockaddr_in seen{};
  socklen_t length = sizeof(seen);
  ASSERT_EQ(::getpeername(accepted.get(), reinterpret_cast<sockaddr*>(&seen), &length), 0);
  char ip[INET_ADDRSTRLEN];
  EXPECT_STREQ(inet_ntop(AF_INET, &seen.sin_addr, ip, sizeof(ip)), "127.0.0.2");
}

// A local agent's socket: its name whole and terminated within the length given, or no
// address at all when it would not fit (never cut short: that would name another socket).
TEST(Dialer, UnixAddressesHoldTheWholeNameOrNone) {
  std::string longest(sizeof(sockaddr_un::sun_path) - 1, 'a');
  std::optional<SocketAddress> address = unix_address(longest);
  ASSERT_TRUE(address);
  const auto& un = reinterpret_cast<const sockaddr_un&>(address->storage);
  EXPECT_EQ(un.sun_family, AF_UNIX);
  EXPECT_EQ(std::string(un.sun_path), longest);
  EXPECT_EQ(address->length, offsetof(sockaddr_un, sun_path) + longest.size() + 1);
  EXPECT_FALSE(unix_address(longest + "a"));
  EXPECT_EQ(format_address(unix_address("/run/spire/agent.sock")->get()), "unix:/run/spire/agent.sock");
}

TEST(Dialer, ReportsTheLastFailureWhenNoneConnects) {
  EventLoop loop;
  LoopbackPort first(false), second(false);
  DialResult r = dial(loop, {first.address, second.address});
  EXPECT_EQ(r.failure, DialFailure::refused);
  EXPECT_FALSE(r.fd);
  EXPECT_NE(r.detail.find(":" + std::to_string(second.port)), std::string::npos) << r.detail;
}

TEST(Dialer, SkipsAddressesTheCheckForbids) {
  EventLoop loop;
  LoopbackPort forbidden(true), allowed(true);
  auto allow = [&](const sockaddr* addr) {
    bool ok = ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port) == allowed.port;
    return ok ? std::string() : "not in allowed_destinations";
  };
  DialResult r = dial(loop, {forbidden.address, allowed.address}, allow);
  EXPECT_EQ(r.failure, DialFailure::none) << r.detail;
  EXPECT_EQ(port_of(r.address), allowed.port);

  r = dial(loop, {forbidden.address}, allow);
  EXPECT_EQ(r.failure, DialFailure::forbidden);
  EXPECT_NE(r.detail.find("allowed_destinations"), std::string::npos) << r.detail;
}

TEST(Dialer, ResolvesNames) {
  EventLoop loop;
  LoopbackPort open(true);
  std::optional<DialResult> result;
  Dialer dialer(loop, address::HostPort{"localhost", open.port}, DialOptions{5s}, nullptr,
                [&](DialResult r) { result = std::move(r); });
  while (!result) loop.run_nowait();
  EXPECT_EQ(result->failure, DialFailure::none) << result->detail;
}

// Sockets made elsewhere (a pod's namespace, in the daemon): each attempt asks the source
// for one and connects the socket it hands over, later, on the loop.
TEST(Dialer, ConnectsTheSocketsItsSourceHandsOver) {
  EventLoop loop;
  LoopbackPort closed(false), open(true);
  std::vector<int> handed;
  DialOptions options{5s};
  options.sockets = [&](int family, SocketMade made) {
    EXPECT_EQ(family, AF_INET);
    Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    handed.push_back(fd.get());
    loop.post([fd = std::make_shared<Fd>(std::move(fd)), made] { made(std::move(*fd), 0); });
  };
  std::optional<DialResult> result;
  Dialer dialer(loop, std::vector<SocketAddress>{closed.address, open.address}, options, nullptr,
                [&](DialResult r) { result = std::move(r); });
  while (!result) loop.run_nowait();
  EXPECT_EQ(result->failure, DialFailure::none) << result->detail;
  ASSERT_EQ(handed.size(), 2u);  // one per attempt
  EXPECT_EQ(result->fd.get(), handed[1]);
  EXPECT_EQ(port_of(result->address), open.port);
}

TEST(Dialer, ASourceThatCannotMakeASocketFailsTheAttempt) {
  EventLoop loop;
  LoopbackPort open(true);
  DialOptions options{5s};
  options.sockets = [&](int, SocketMade made) { loop.post([made] { made(Fd(), EMFILE); }); };
  std::optional<DialResult> result;
  Dialer dialer(loop, std::vector<SocketAddress>{open.address}, options, nullptr,
                [&](DialResult r) { result = std::move(r); });
  while (!result) loop.run_nowait();
  EXPECT_EQ(result->failure, DialFailure::descriptors);
  EXPECT_NE(result->detail.find("socket: "), std::string::npos) << result->detail;
}

TEST(Dialer, ASocketHandedOverAfterTheDialerIsGoneIsClosed) {
  EventLoop loop;
  LoopbackPort open(true);
  SocketMade pending;
  DialOptions options{5s};
  options.sockets = [&](int, SocketMade made) { pending = std::move(made); };
  bool done = false;
  std::optional<Dialer> dialer;
  dialer.emplace(loop, std::vector<SocketAddress>{open.address}, options, nullptr, [&](DialResult) { done = true; });
  ASSERT_TRUE(pending);
  dialer.reset();
  Fd late(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int number = late.get();
  pending(std::move(late), 0);
  EXPECT_FALSE(done);
  EXPECT_EQ(::fcntl(number, F_GETFD), -1);  // closed, not connected by a dialer that is gone
}

}  // namespace
}  // namespace hbone::net
