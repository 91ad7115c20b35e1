#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "net/byte_stream.h"
#include "net/dialer.h"
#include "tunnel/admission.h"
#include "util/byte_buffer.h"
#include "worker/buffer_charge.h"
#include "worker/context.h"

namespace hbone::client {

// A captured connection on a `direct` route: dialled straight to its original destination
// (with socket.mark, so it is not captured again) and relayed in the clear, both ways,
// with half-close (FIN) and resets (RST) carried across like a tunnel's. Its buffers count
// against limits.buffer_memory as a tunnel's do, by the same rule: at the budget, a
// direction that holds bytes stops reading until there is room; one that holds none
// reads a little at a time.
class DirectConnection final : public net::Retirable {
 public:
  using OnDone = std::function<void(DirectConnection*)>;
  struct Info {
    std::string source;
    std::string target;
    std::string route;
    tunnel::Admission::Ticket ticket;
    // An address to dial from (DialOptions::from): a pod's app's peer.
    std::optional<sockaddr_storage> from = {};
  };
  DirectConnection(worker::Context& worker, std::unique_ptr<net::ByteStream> app,
                   const sockaddr_storage& destination, Info info, OnDone done);
  ~DirectConnection() override;

  // Closes both sides with RST (shutdown).
  void abort(const char* why);

 private:
  // One stream and the bytes read from the other one, waiting to be written to it.
  struct Side final : net::IoHandler {
    explicit Side(DirectConnection& relay) : owner(relay) {}
    DirectConnection& owner;
    Side* other = nullptr;
    std::unique_ptr<net::ByteStream> stream;
    ByteBuffer pending;     // from `other`, to write to stream
    bool eof = false;       // FIN read from stream
    bool fin_sent = false;  // FIN written to stream
    uint64_t bytes_read = 0;

    void on_io(int status, int events) override;
    // How much the next read may take now (0: it waits).
    size_t read_room() const;
    bool read();  // false once the connection is finished
    bool write();
    // Readiness wanted from the stream; true if it waits for the budget.
    bool update_interest();
    void close(bool reset);
  };

  void on_dialed(net::Dialer::Result result);
  void update();
  bool holds_bytes() const { return !app_.pending.empty() || !upstream_.pending.empty(); }
  void recharge() { charge_.set(app_.pending.capacity() + upstream_.pending.capacity()); }
  void finish(const char* how, bool reset);

  worker::Context& worker_;
  Info info_;
  OnDone done_;
  Side app_{*this};
  Side upstream_{*this};
  worker::BufferCharge charge_;
  std::unique_ptr<net::Dialer> dialer_;
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  bool finished_ = false;
};

// The direct relays one listener started, each destroyed once it ends.
class DirectConnections {
 public:
  explicit DirectConnections(worker::Context& worker) : worker_(worker) {}
  ~DirectConnections() { close_all(); }
  void start(std::unique_ptr<net::ByteStream> app, const sockaddr_storage& destination, DirectConnection::Info info);
  size_t size() const { return open_.size(); }
  // Resets every open one.
  void close_all();

 private:
  worker::Context& worker_;
  std::map<DirectConnection*, std::unique_ptr<DirectConnection>> open_;
};

}  // namespace hbone::client
