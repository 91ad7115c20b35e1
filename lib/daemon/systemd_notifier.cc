#include "daemon/systemd_notifier.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace hbone::daemon {

SystemdNotifier::SystemdNotifier(net::EventLoop& main) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0 || usec == 0) return;
  watchdog_.emplace(main.uv(), [this] { tick(); });
  auto period = std::chrono::microseconds(usec / 2);
  spdlog::info("systemd watchdog: every {} ms while every loop turns",
               std::chrono::duration_cast<std::chrono::milliseconds>(period).count());
  watchdog_->start(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(period));
}

void SystemdNotifier::status(const std::string& text) { sd_notify(0, ("STATUS=" + text).c_str()); }

void SystemdNotifier::ready() { sd_notify(0, "READY=1\nSTATUS=serving"); }

void SystemdNotifier::stopping() { sd_notify(0, "STOPPING=1\nSTATUS=draining"); }

void SystemdNotifier::tick() {
  // The first tick, before any worker was asked, pings on the main loop's word alone.
  bool all = true;
  for (const auto& answered : answered_) all = all && answered->load();
  if (all) {
    sd_notify(0, "WATCHDOG=1");
  } else {
    spdlog::warn("systemd watchdog: a worker's loop did not turn within the period; not pinging");
  }
  answered_.clear();
  for (net::EventLoop* worker : workers_) {
    auto answered = answered_.emplace_back(std::make_shared<std::atomic<bool>>(false));
    worker->post([answered] { answered->store(true); });
  }
}

}  // namespace hbone::daemon
