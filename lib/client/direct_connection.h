#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "net/dialer.h"
#include "net/fd.h"
#include "net/edge_poller.h"
#include "worker/context.h"
#include "tunnel/admission.h"
#include "util/byte_buffer.h"

namespace hbone::client {

// A captured connection on a `direct` route: dialled straight to its original destination
// (with socket.mark, so it is not captured again) and relayed in the clear, both ways,
// with half-close (FIN) and resets (RST) carried across like a tunnel's.
class DirectConnection final : public net::Retirable {
 public:
  using OnDone = std::function<void(DirectConnection*)>;
  struct Info {
    std::string source;
    std::string target;
    std::string route;
    tunnel::Admission::Ticket ticket;
  };
  DirectConnection(worker::Context& worker, net::Fd app, const sockaddr_storage& destination, Info info,
                   OnDone done);
  ~DirectConnection() override;

  // Closes both sides with RST (shutdown).
  void abort(const char* why);

 private:
  // One socket and the bytes read from the other one, waiting to be written to it.
  struct Side final : net::IoHandler {
    DirectConnection* owner = nullptr;
    Side* other = nullptr;
    net::Fd fd;
    std::optional<net::EdgeWatcher> poll;
    ByteBuffer pending;     // from `other`, to write to fd
    bool eof = false;       // FIN read from fd
    bool fin_sent = false;  // shutdown(SHUT_WR) done on fd
    uint64_t bytes_read = 0;

    void on_io(int status, int events) override;
    void attach(net::EdgePoller& edges, net::Fd socket, std::optional<net::EdgeWatcher> watcher);
    // Stops watching and closes the socket (with RST if `reset`).
    void close(bool reset);
    bool read();   // false once the connection is finished
    bool write();
    void update_interest(size_t limit);
  };

  void on_dialed(net::Dialer::Result result);
  void update();
  void finish(const char* how, bool reset);

  worker::Context& worker_;
  Info info_;
  OnDone done_;
  Side app_;
  Side upstream_;
  std::unique_ptr<net::Dialer> dialer_;
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  bool finished_ = false;
};

}  // namespace hbone::client
