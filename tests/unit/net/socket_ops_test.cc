#include "net/own_connections.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net/fd.h"
#include "net/listen_socket.h"
#include "net/socket_ops.h"

using namespace hbone::net;

namespace {
// A connected pair over loopback: the dialled socket and the accepted one.
struct Pair {
  Fd listener = listen_on({"127.0.0.1", 0});
  Fd dialled;
  Fd accepted;
  sockaddr_storage peer{};  // the dialled socket's address as the accepting side sees it
  sockaddr_storage addr{};  // the listener's (the dialled socket's destination)

  Pair() {
    socklen_t len = sizeof(addr);
    getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    dialled.reset(::socket(AF_INET, SOCK_STREAM, 0));
    EXPECT_EQ(::connect(dialled.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
    OwnConnections::instance().add(dialled.get(), reinterpret_cast<sockaddr*>(&addr));
    len = sizeof(peer);
    for (int i = 0; i < 1000 && !accepted; ++i) accepted.reset(::accept(listener.get(), reinterpret_cast<sockaddr*>(&peer), &len));
  }
};
}  // namespace

TEST(OwnConnections, RecognisesOwnDialOnceWhenEnabled) {
  auto taken = [](const sockaddr_storage& from, const sockaddr_storage& to) {
    return OwnConnections::instance().take(reinterpret_cast<const sockaddr*>(&from),
                                           reinterpret_cast<const sockaddr*>(&to));
  };
  Pair before;  // not enabled yet: nothing is recorded
  EXPECT_FALSE(taken(before.peer, before.addr));
  OwnConnections::instance().enable();
  Pair pair;
  ASSERT_TRUE(pair.accepted);
  // The same local address to another destination is not ours: the kernel hands a local
  // port to connections to different destinations at once.
  sockaddr_storage elsewhere = pair.addr;
  reinterpret_cast<sockaddr_in*>(&elsewhere)->sin_port = htons(ntohs(reinterpret_cast<sockaddr_in*>(&pair.addr)->sin_port) ^ 1);
  EXPECT_FALSE(taken(pair.peer, elsewhere));
  EXPECT_TRUE(taken(pair.peer, pair.addr));
  EXPECT_FALSE(taken(pair.peer, pair.addr));  // once
  // The accepted side's own address was never dialled by us.
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  getsockname(pair.accepted.get(), reinterpret_cast<sockaddr*>(&local), &len);
  EXPECT_FALSE(taken(local, pair.peer));
}

TEST(SocketOps, TransparentOriginalDestinationIsTheLocalAddress) {
  Pair pair;
  ASSERT_TRUE(pair.accepted);
  sockaddr_storage original{}, local{};
  ASSERT_TRUE(original_destination(pair.accepted.get(), /*transparent=*/true, original));
  socklen_t len = sizeof(local);
  getsockname(pair.accepted.get(), reinterpret_cast<sockaddr*>(&local), &len);
  EXPECT_TRUE(same_endpoint(reinterpret_cast<sockaddr*>(&original), reinterpret_cast<sockaddr*>(&local)));
  EXPECT_FALSE(same_endpoint(reinterpret_cast<sockaddr*>(&original), reinterpret_cast<sockaddr*>(&pair.peer)));
}

TEST(SocketOps, HboneOptionsAreSet) {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  SocketOptions options;
  options.keepalive_time = std::chrono::seconds(42);
  options.keepalive_interval = std::chrono::seconds(7);
  options.keepalive_probes = 5;
  options.user_timeout = std::chrono::milliseconds(77'000);
  options.notsent_lowat = 65536;
  apply_hbone_options(fd.get(), options);
  auto get = [&](int level, int name) {
    int value = -1;
    socklen_t len = sizeof(value);
    getsockopt(fd.get(), level, name, &value, &len);
    return value;
  };
  EXPECT_EQ(get(SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPIDLE), 42);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPINTVL), 7);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPCNT), 5);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_USER_TIMEOUT), 77'000);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_NOTSENT_LOWAT), 65536);

  Fd off(::socket(AF_INET, SOCK_STREAM, 0));
  options.keepalive_time = options.user_timeout = std::chrono::milliseconds(0);
  apply_hbone_options(off.get(), options);
  int value = -1;
  socklen_t len = sizeof(value);
  getsockopt(off.get(), SOL_SOCKET, SO_KEEPALIVE, &value, &len);
  EXPECT_EQ(value, 0);
}
