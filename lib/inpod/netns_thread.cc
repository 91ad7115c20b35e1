#include "inpod/netns_thread.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace hbone::inpod {

NetnsThread::NetnsThread() : host_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
  if (!host_) throw std::system_error(errno, std::generic_category(), "open /proc/thread-self/ns/net");
  thread_ = std::thread([this] { loop(); });
}

NetnsThread::~NetnsThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_one();
  thread_.join();
}

void NetnsThread::submit(Netns netns, Task task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(netns), std::move(task)});
  }
  wake_.notify_one();
}

void NetnsThread::make_socket(Netns netns, int family, net::EventLoop& loop, SocketMade done) {
  submit(std::move(netns), [family, &loop, done = std::move(done)](int entered) mutable {
    auto fd = std::make_shared<net::Fd>();
    int error = entered;
    if (error == 0) {
      fd->reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!*fd) error = errno;
    }
    loop.post([fd, error, done = std::move(done)] { done(std::move(*fd), error); });
  });
}

void NetnsThread::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    int entered = ::setns(job.netns->get(), CLONE_NEWNET) == 0 ? 0 : errno;
    job.task(entered);
    // A thread left in a pod's namespace would make the next pod's sockets there: there is
    // no safe way on.
    if (entered == 0 && ::setns(host_.get(), CLONE_NEWNET) != 0) {
      spdlog::critical("netns thread: cannot return to the host's network namespace: {}", std::strerror(errno));
      std::abort();
    }
    job = {};  // the task's captures go before the lock is taken again
    lock.lock();
  }
}

}  // namespace hbone::inpod
