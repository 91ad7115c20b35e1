#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "net/event_loop.h"
#include "net/timer.h"

namespace hbone::daemon {

// What a Type=notify unit (packaging/debian/hbone.service) hears from hbone, through
// libsystemd's sd_notify (nothing without NOTIFY_SOCKET): READY=1 once every listener is
// open and the workers serve, STOPPING=1 when a drain begins, and, when the unit sets
// WatchdogSec=, WATCHDOG=1 at half that period only while the main loop and every worker's
// loop turn: each tick posts a task to every worker, and the next tick pings only if all of
// them ran. A worker stuck in a loop turn therefore gets the process restarted by systemd.
class SystemdNotifier {
 public:
  // `workers`: the workers' loops, which outlive it.
  SystemdNotifier(net::EventLoop& main, std::vector<net::EventLoop*> workers);

  // Any thread.
  static void ready();
  static void stopping();

 private:
  void tick();

  std::vector<net::EventLoop*> workers_;
  std::optional<net::Timer> watchdog_;
  // One per worker: its loop ran the task of the last tick.
  std::vector<std::shared_ptr<std::atomic<bool>>> answered_;
};

}  // namespace hbone::daemon
