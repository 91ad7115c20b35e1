#include "inpod/netns_thread.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "net/listen_socket.h"
#include "net/timer.h"

namespace hbone::inpod {
namespace {

ino_t inode_of(const char* path) {
  struct stat st {};
  EXPECT_EQ(::stat(path, &st), 0) << std::strerror(errno);
  return st.st_ino;
}

// A network namespace of the test's own with its loopback up, held by a descriptor only
// (made on a thread that leaves it again by ending).
Netns new_netns() {
  Netns netns;
  std::thread([&netns] {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    netns = std::make_shared<const net::Fd>(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    net::Fd control(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq lo{};
    std::strcpy(lo.ifr_name, "lo");
    ASSERT_EQ(::ioctl(control.get(), SIOCGIFFLAGS, &lo), 0);
    lo.ifr_flags |= IFF_UP;
    ASSERT_EQ(::ioctl(control.get(), SIOCSIFFLAGS, &lo), 0);
  }).join();
  return netns;
}

// Turns `loop` until `done`, for at most 2 s (the timer keeps it alive as a worker's
// sockets do: a posted task alone does not).
template <typename Done>
void turn_until(net::EventLoop& loop, Done done) {
  net::Timer give_up(loop.uv(), [] {});
  give_up.start(std::chrono::seconds(2));
  while (!done() && loop.run_nowait()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(done());
}

int connect_to(int fd, const address::HostPort& to) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(to.port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  return ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 || errno == EINPROGRESS ? 0 : errno;
}

TEST(NetnsThreadTest, RunsTasksInsideTheNamespaceAndReturnsToTheHosts) {
  Netns pod = new_netns();
  NetnsThread thread;
  struct stat pod_ns {};
  ASSERT_EQ(::fstat(pod->get(), &pod_ns), 0);
  EXPECT_EQ(thread.run(pod, [] { return inode_of("/proc/thread-self/ns/net"); }), pod_ns.st_ino);
  // Between tasks the thread is back in the host's namespace.
  auto host = std::make_shared<const net::Fd>(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  pid_t tid = thread.run(host, [] { return ::gettid(); });
  thread.run(pod, [] {});
  // (run() answers from inside the task: the thread goes back right after, not before.)
  std::string idle_ns = "/proc/self/task/" + std::to_string(tid) + "/ns/net";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (inode_of(idle_ns.c_str()) != inode_of("/proc/self/ns/net") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(inode_of(idle_ns.c_str()), inode_of("/proc/self/ns/net"));
  // An exception from the task reaches the caller; the thread carries on.
  EXPECT_THROW(thread.run(pod, []() -> int { throw std::runtime_error("task failed"); }), std::runtime_error);
  EXPECT_EQ(thread.run(pod, [] { return inode_of("/proc/thread-self/ns/net"); }), pod_ns.st_ino);
}

TEST(NetnsThreadTest, SocketsMadeInAPodReachItsListenersAndTheHostsDoNot) {
  Netns pod = new_netns();
  NetnsThread thread;
  net::Fd listener = thread.run(pod, [] { return net::listen_on(address::HostPort{"127.0.0.1", 0}); });
  address::HostPort bound = net::local_address(listener.get());

  net::EventLoop loop;
  net::Fd made;
  int error = -1;
  thread.make_socket(pod, AF_INET, loop, [&](net::Fd fd, int err) {
    made = std::move(fd);
    error = err;
  });
  turn_until(loop, [&] { return error != -1; });
  ASSERT_EQ(error, 0);
  ASSERT_TRUE(made);
  EXPECT_EQ(connect_to(made.get(), bound), 0);
  // The same port in the host's namespace is another one (nothing listens there, or it is
  // somebody else's): the pod's listener never sees that connection.
  net::Fd host_socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  connect_to(host_socket.get(), bound);
  for (int i = 0; i < 100; ++i) {
    net::Fd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!accepted) break;
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    ::getpeername(accepted.get(), reinterpret_cast<sockaddr*>(&peer), &len);
    sockaddr_in mine{};
    len = sizeof(mine);
    ::getsockname(made.get(), reinterpret_cast<sockaddr*>(&mine), &len);
    EXPECT_EQ(peer.sin_port, mine.sin_port) << "the listener accepted a connection from another namespace";
  }
}

TEST(NetnsThreadTest, ADescriptorThatIsNoNamespaceFailsTheTaskNotTheThread) {
  NetnsThread thread;
  auto not_netns = std::make_shared<const net::Fd>(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_THROW(thread.run(not_netns, [] { return 1; }), std::system_error);
  net::EventLoop loop;
  int error = -1;
  bool made = true;
  thread.make_socket(not_netns, AF_INET, loop, [&](net::Fd fd, int err) {
    made = static_cast<bool>(fd);
    error = err;
  });
  turn_until(loop, [&] { return error != -1; });
  EXPECT_FALSE(made);
  EXPECT_EQ(error, EINVAL);
  EXPECT_EQ(thread.run(std::make_shared<const net::Fd>(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)),
                       [] { return inode_of("/proc/thread-self/ns/net"); }),
            inode_of("/proc/self/ns/net"));
}

}  // namespace
}  // namespace hbone::inpod
