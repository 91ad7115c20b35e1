#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "net/timer.h"

namespace hbone::daemon {

// What a Type=notify unit (deploy/debian/hbone.service) hears from hbone, through
// libsystemd's sd_notify (nothing without NOTIFY_SOCKET): STATUS= while it waits for a
// certificate, READY=1 once every listener is open and the workers serve, STOPPING=1 when
// a drain begins, and, when the unit sets WatchdogSec=, WATCHDOG=1 at half that period only
// while the main loop and every watched worker's loop turn: each tick posts a task to every
// worker, and the next tick pings only if all of them ran. A worker stuck in a loop turn
// therefore gets the process restarted by systemd. Made at start: the main loop is watched
// from then on (it turns while hbone waits for its first certificate), the workers once
// they run.
class SystemdNotifier {
 public:
  explicit SystemdNotifier(net::EventLoop& main);

  // From now on a ping also needs each of these loops (which outlive it) to turn.
  void watch(std::vector<net::EventLoop*> workers) { workers_ = std::move(workers); }

  // Any thread.
  static void status(const std::string& text);
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
