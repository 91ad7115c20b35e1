#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <sys/uio.h>

#include "h2/h2_connection.h"
#include "h2/stream_handler.h"
#include "metrics/worker_metrics.h"
#include "net/byte_stream.h"
#include "tunnel/admission.h"
#include "tunnel/stall_clock.h"
#include "util/byte_buffer.h"
#include "worker/buffer_charge.h"

namespace hbone::tunnel {

// Envoy's response flags for a final status (Istio's response_flags label).
const char* response_flags(int status);

// Relays one local connection (a TCP socket, or a pipe inside the process) over one HTTP/2 stream, both directions, with
// half-close (FIN <-> END_STREAM) and resets (RST <-> RST_STREAM) carried across.
//
// Backpressure: bytes from the peer are acknowledged to nghttp2 (and so to the remote
// sender's window) only once written to the local socket; the local socket is only read
// while the outgoing buffer has room, and that buffer drains only as the peer's windows
// allow. Memory per tunnel is bounded by socket.read_size plus the stream window, and all
// tunnels together by limits.buffer_memory: at it, a tunnel that holds bytes stops reading
// its local socket and withholds its stream's credit (the connection's still flows, so
// tunnels that hold nothing, new or interactive ones, go on) until there is room again.
class Tunnel : public h2::StreamHandler, public net::IoHandler {
 public:
  struct Info {
    // Built with named fields; whatever is left out starts empty.
    std::string role = {};      // "client" or "gateway"
    std::string source = {};    // the local peer (client) or the HTTP/2 peer (gateway)
    std::string target = {};    // CONNECT authority
    int attempt = 0;            // client: how often this connection was retried elsewhere
    Admission::Ticket ticket = {};  // its place under limits.max_tunnels*
    std::string route = {};     // client: the listener or capture route that chose the target
    std::string trace_id = {};  // gateway: from the CONNECT's traceparent, for the access log
    // client, double HBONE: this tunnel carries a pooled connection, which must drain
    // (take no new tunnel, close after its last) once this tunnel's connection drains.
    std::function<void()> drain_carried = {};
  };
  // What a retry takes elsewhere: the local side and the tunnel's description.
  struct Handoff {
    std::unique_ptr<net::ByteStream> local;
    Info info;
  };

  Tunnel(h2::H2Connection& conn, Info info);
  ~Tunnel() override;

  h2::H2Connection& connection() const { return conn_; }
  void set_stream_id(int32_t id) { stream_id_ = id; }
  int32_t stream_id() const { return stream_id_; }
  const Info& info() const { return info_; }
  void set_status(int status) { status_ = status; }
  int status() const { return status_; }
  void set_target(std::string target) { info_.target = std::move(target); }
  void set_trace_id(std::string trace_id) { info_.trace_id = std::move(trace_id); }

  // The local side: a socket accepted (client) or dialled (gateway), or double HBONE's
  // in-process pipe to the connection it carries.
  void attach_local(std::unique_ptr<net::ByteStream> local);
  // Gives the local side up (to retry it elsewhere): this tunnel then ends silently.
  Handoff release_local();
  // Counts this tunnel against the caps (gateway: once the request names its peer).
  void admit(Admission::Ticket ticket) { info_.ticket = std::move(ticket); }
  // Response is settled (200 sent or received): start moving bytes.
  void start_relay();
  // Refuse the tunnel: close the local side with RST and reset the stream if it is open;
  // `why` (a literal) is the access log's close reason.
  void fail(uint32_t h2_error, const char* why = "refused");

  // Outcome for the metrics: the response was 200 (counts as opened, records the setup
  // latency), or the tunnel failed with an HTTP status (counts as failed).
  void established();
  // `flags` overrides the Istio response flags derived from the status.
  void count_failure(int status, const char* flags = nullptr);
  // A tunnel refused before it had a local socket (the gateway's answer to a CONNECT): its
  // one access record, now, with `reason` (escaped for the log).
  void log_refused(std::string reason);
  // The gateway.policies entry that decided on this tunnel, for its access record.
  virtual std::string_view decided_by() const { return {}; }

  // StreamHandler
  long next_data(size_t max, bool* eof) override;
  const uint8_t* outgoing_data() const override { return up_.data(); }
  std::chrono::steady_clock::time_point queued_since() const override { return queued_since_; }
  void outgoing_sent(size_t n) override;
  void on_peer_data(const uint8_t* data, size_t n) override;
  void write_received() override;
  bool keeping_up() const override { return down_.empty(); }
  void on_peer_end_stream() override;
  void on_stream_closed(uint32_t error_code) override;
  void abort() override;
  void on_window_update() override {
    update_stall();
    if (window_waiting_) update_interest();
  }
  void on_connection_draining() override {
    if (info_.drain_carried) info_.drain_carried();
  }
  void sample_rate(double seconds) override;
  void describe(nlohmann::json& out) const override;

  // IoHandler (local socket)
  void on_io(int status, int events) override;

 private:
  void read_local();
  void write_local();
  void update_interest();
  // How much the next local read may take now (0: it waits).
  size_t read_room() const;
  // Gives the peer credit for `n` bytes that will never be written (both windows, now).
  void acknowledge(size_t n);
  // Credit for `n` bytes written to the local socket; the stream's is withheld while the
  // budget is exhausted and this tunnel still holds bytes.
  void credit_written(size_t n);
  bool holds_bytes() const { return !up_.empty() || !down_.empty(); }
  // Brings the budget's charge in line with the buffers' capacity, and the connection's
  // count of unsent bytes with up_.
  void recharge();
  // The budget has room again (after charge_.wait()).
  void on_budget_room();
  // Gives the windows back for pending peer bytes that will never be written.
  void drop_received();
  size_t pending_received() const;  // bytes in received_
  void reset_both(uint32_t h2_error, const char* why);
  void reset_local(const char* why);
  // Stops watching the local socket and closes it (with RST if `reset`).
  void close_local(bool reset);
  void maybe_finish();
  void record_close(const char* how);
  void update_stall();
  void count_up(size_t n);
  void count_down(size_t n);
  metrics::IstioLabels istio_labels(const char* flags) const;

  h2::H2Connection& conn_;
  Info info_;
  int32_t stream_id_ = -1;
  int status_ = 0;
  const char* flags_ = "-";  // Envoy's response flags, once count_failure() set them
  std::string reason_;       // why a refused tunnel was refused
  std::unique_ptr<net::ByteStream> local_;
  worker::BufferCharge charge_;  // up_'s and down_'s capacity, as counted in the budget
  ByteBuffer up_;    // local -> peer, read but not yet framed
  size_t read_chunk_;  // the next local read's size (grows with a bulk sender)
  ByteBuffer down_;  // peer -> local, received but not yet written
  size_t unsent_ = 0;    // up_'s size, as counted in the connection's unsent()
  size_t owed_ = 0;      // stream credit withheld while the budget is exhausted
  bool window_waiting_ = false;  // at the budget, holding nothing, for the peer's windows
  // Peer bytes still in the connection's receive buffer, written in one call by
  // write_received(); whatever the socket does not take moves to down_. Never both.
  std::vector<iovec> received_;
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point queued_since_{};  // up_'s first byte, until framed
  uint64_t bytes_up_ = 0;    // local -> peer
  uint64_t bytes_down_ = 0;  // peer -> local
  uint64_t sampled_up_ = 0;
  uint64_t sampled_down_ = 0;
  double rate_up_ = 0;       // bytes/s over the last sample period
  double rate_down_ = 0;
  double idle_seconds_ = 0;  // since the last byte either way, in sample periods
  metrics::IstioTcp* istio_ = nullptr;  // set once established
  StallClock stall_;  // waits on the peer's windows
  bool relaying_ = false;
  bool deferred_ = false;        // nghttp2 waits for resume_data
  bool local_eof_ = false;       // FIN read from the local socket
  bool end_stream_sent_ = false;
  bool peer_eof_ = false;        // END_STREAM received
  bool fin_written_ = false;     // shutdown(SHUT_WR) done
  bool stream_closed_ = false;
  bool finished_ = false;
};

}  // namespace hbone::tunnel
