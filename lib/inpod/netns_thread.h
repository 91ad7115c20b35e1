#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <type_traits>

#include "net/event_loop.h"
#include "inpod/netns.h"
#include "net/fd.h"

namespace hbone::inpod {

// The one thread that enters pods' network namespaces (ztunnel's InpodNetns::run, on a
// thread of its own): a socket belongs to the namespace it was made in, so each pod's
// listeners and dials are made here (setns into the pod, socket(), setns back) and used
// anywhere. The workers never change namespace: a worker whose setns failed half-way would
// carry every other pod's traffic in the wrong one. Tasks run one at a time, in order.
class NetnsThread {
 public:
  NetnsThread();
  // Drops what is still queued (its callbacks never run) and joins.
  ~NetnsThread();
  NetnsThread(const NetnsThread&) = delete;
  NetnsThread& operator=(const NetnsThread&) = delete;

  // Runs `task` inside `netns` and waits for its result (or exception): for the main
  // thread, never a worker's loop.
  template <typename F>
  std::invoke_result_t<F> run(const Netns& netns, F task) {
    using Result = std::invoke_result_t<F>;
    // std::function needs a copyable callable: the promise lives on the heap.
    auto promise = std::make_shared<std::promise<Result>>();
    std::future<Result> result = promise->get_future();
    submit(netns, [promise, task = std::move(task)](int entered) mutable {
      try {
        if (entered != 0) throw std::system_error(entered, std::generic_category(), "setns into the pod");
        if constexpr (std::is_void_v<Result>) {
          task();
          promise->set_value();
        } else {
          promise->set_value(task());
        }
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    return result.get();
  }

  // Any thread: a TCP socket of `family` (non-blocking, close-on-exec) made inside `netns`,
  // handed to `done` on `loop` (an invalid descriptor and the errno when it could not be
  // made). `loop` must outlive this thread's queue.
  using SocketMade = std::function<void(net::Fd fd, int error)>;
  void make_socket(Netns netns, int family, net::EventLoop& loop, SocketMade done);

 private:
  // Queues `task` to run inside `netns`; its argument is 0 there, or setns's errno when the
  // thread could not enter (the task then runs in the host's namespace and must not make
  // anything).
  using Task = std::function<void(int entered)>;
  void submit(Netns netns, Task task);
  void loop();

  net::Fd host_;  // the namespace this thread returns to: the process's own
  std::mutex mutex_;
  std::condition_variable wake_;
  struct Job {
    Netns netns;
    Task task;
  };
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace hbone::inpod
