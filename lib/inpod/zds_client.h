#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "inpod/pod_table.h"
#include "net/event_loop.h"
#include "net/fd.h"
#include "net/io_handler.h"
#include "net/poll_watcher.h"
#include "net/timer.h"
#include "util/backoff.h"

namespace hbone::inpod {

// The node proxy's end of ZDS (ztunnel's inpod/workloadmanager.rs and protocol.rs): hbone
// connects to the Istio CNI agent's unix SOCK_SEQPACKET socket, says hello (V1), and answers
// each request the agent sends, one per packet, with an Ack once the PodTable applied it
// (its error when it did not). A packet that cannot be read (cut short, undecodable, wrong
// descriptors) or a broken rule is refused and ends the connection; so does the agent going
// away. Either way hbone connects again after a back-off (ztunnel's: from 10 ms, doubling,
// to 15 s) and the agent's new snapshot reconciles the pods: none is dropped meanwhile.
// One loop's object.
class ZdsClient final : public net::IoHandler {
 public:
  struct Options {
    std::string socket_path;
    util::Backoff::Policy backoff{.initial = std::chrono::milliseconds(10), .multiplier = 2.0, .jitter = 0.2,
                                  .max = std::chrono::seconds(15)};
  };
  ZdsClient(net::EventLoop& loop, Options options, PodTable& pods);

  void start();
  // Any thread: through the agent's first snapshot (readiness; it stays while the agent
  // restarts, as ztunnel's: the pods stay served).
  bool synced() const { return synced_; }

  void on_io(int status, int events) override;

 private:
  void connect();
  void receive();
  void answer(const std::string& error);
  void lost(const std::string& why);

  net::EventLoop& loop_;
  Options options_;
  PodTable& pods_;
  util::Backoff backoff_;
  net::Timer retry_;
  net::Fd socket_;
  std::optional<net::PollWatcher> watcher_;  // destroyed before socket_ closes
  std::atomic<bool> synced_{false};
  bool connected_ = false;
  bool through_snapshot_ = false;  // this connection's
};

}  // namespace hbone::inpod
