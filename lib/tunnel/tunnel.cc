#include "tunnel/tunnel.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "net/socket_ops.h"
#include "tunnel/access_log.h"

namespace hbone::tunnel {

namespace {

// Local reads start at this size and double while they fill it, up to socket.read_size: an
// interactive tunnel keeps a small buffer, a bulk one makes few large reads.
constexpr size_t kFirstReadChunk = 64 * 1024;
// Peer chunks (one per TLS record) gathered into one sendmsg(); well below IOV_MAX.
constexpr size_t kMaxGather = 64;

}  // namespace

const char* response_flags(int status) {
  switch (status) {
    case 400:
    case 405:
    case 431: return "DPE";
    case 403: return "UAEX";
    case 429: return "UO";
    default: return "UF";
  }
}

Tunnel::Tunnel(h2::H2Connection& conn, Info info)
    : conn_(conn),
      info_(std::move(info)),
      charge_(conn.worker(), conn.role(), [this] { on_budget_room(); }),
      read_chunk_(kFirstReadChunk),
      stall_(conn.metrics().layers.get<TunnelStats>(), conn.role()) {
  conn_.metrics().tunnels_active[conn_.role()].add(1);
}

Tunnel::~Tunnel() {
  if (local_) close_local(true);  // never finished cleanly
  conn_.metrics().tunnels_active[conn_.role()].add(-1);
  conn_.add_unsent(-static_cast<int64_t>(unsent_));
}

void Tunnel::recharge() {
  conn_.add_unsent(static_cast<int64_t>(up_.size()) - static_cast<int64_t>(unsent_));
  unsent_ = up_.size();
  charge_.set(up_.capacity() + down_.capacity());
}

void Tunnel::on_budget_room() {
  if (owed_) conn_.consume_stream(stream_id_, std::exchange(owed_, 0));
  update_interest();
}

metrics::IstioLabels Tunnel::istio_labels(const char* flags) const {
  bool client = conn_.role() == metrics::kClient;
  return {conn_.role(), client ? conn_.own_identity() : conn_.peer_identity(),
          client ? conn_.peer_identity() : conn_.own_identity(), flags};
}

void Tunnel::established() {
  istio_ = conn_.metrics().istio(istio_labels("-"));
  istio_->opened.add();
  conn_.metrics().setup_seconds[conn_.role()].observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count());
}

void Tunnel::count_failure(int status, const char* flags) {
  flags_ = flags ? flags : response_flags(status);
  conn_.metrics().istio(istio_labels(flags_))->failed.add();
}

void Tunnel::log_refused(std::string reason) {
  reason_ = std::move(reason);
  finished_ = true;
  record_close("refused");
}

// Istio counts from the downstream's view: the client's local side is the downstream,
// the gateway's peer is.
void Tunnel::count_up(size_t n) {
  bytes_up_ += n;
  conn_.metrics().bytes_in[conn_.role()].add(n);
  if (istio_) (conn_.role() == metrics::kClient ? istio_->received_bytes : istio_->sent_bytes).add(n);
}

void Tunnel::count_down(size_t n) {
  bytes_down_ += n;
  conn_.metrics().bytes_out[conn_.role()].add(n);
  if (istio_) (conn_.role() == metrics::kClient ? istio_->sent_bytes : istio_->received_bytes).add(n);
}

void Tunnel::update_stall() {
  std::optional<StallScope> scope;
  if (!up_.empty() && stream_id_ > 0 && !stream_closed_ && conn_.ready()) {
    if (conn_.send_window(stream_id_) <= 0) {
      scope = StallScope::stream;
    } else if (conn_.connection_send_window() <= 0) {
      scope = StallScope::connection;
    }
  }
  stall_.set(scope);
}

void Tunnel::sample_rate(double seconds) {
  // Buffers stay allocated while bytes flow (a free and malloc of 256 KiB per read was
  // measurable, mostly tcmalloc's sampler) and are released once the tunnel goes idle.
  if (bytes_up_ == sampled_up_ && bytes_down_ == sampled_down_) {
    up_.shrink();
    down_.shrink();
    recharge();
    read_chunk_ = kFirstReadChunk;
    idle_seconds_ += seconds;
  } else {
    idle_seconds_ = 0;
  }
  auto idle_timeout = conn_.worker().idle_timeout;
  if (relaying_ && !finished_ && idle_timeout.count() > 0 &&
      idle_seconds_ * 1000 >= static_cast<double>(idle_timeout.count())) {
    conn_.metrics().idle_timeouts[conn_.role()].add();
    reset_both(NGHTTP2_CANCEL, "idle timeout");
  }
  rate_up_ = static_cast<double>(bytes_up_ - sampled_up_) / seconds;
  rate_down_ = static_cast<double>(bytes_down_ - sampled_down_) / seconds;
  sampled_up_ = bytes_up_;
  sampled_down_ = bytes_down_;
}

void Tunnel::describe(nlohmann::json& out) const {
  auto now = std::chrono::steady_clock::now();
  auto stalled = stall_.total(now);
  out["id"] = std::to_string(conn_.worker().index) + ":" + std::to_string(stream_id_) + "@" +
              conn_.peer_address();
  out["worker"] = conn_.worker().index;
  out["role"] = info_.role;
  out["source"] = info_.source;
  out["peer_identity"] = conn_.peer_identity();
  out["target"] = info_.target;
  if (!info_.route.empty()) out["route"] = info_.route;
  if (!info_.trace_id.empty()) out["trace_id"] = info_.trace_id;
  out["stream_id"] = stream_id_;
  out["status"] = status_;
  out["age_seconds"] = std::chrono::duration<double>(now - opened_).count();
  out["bytes_sent"] = bytes_up_;        // local -> peer
  out["bytes_received"] = bytes_down_;  // peer -> local
  out["rate_sent"] = rate_up_;          // bytes/s over the last second
  out["rate_received"] = rate_down_;
  out["stalled_seconds"] = std::chrono::duration<double>(stalled).count();
  out["stalled_on"] = stall_.scope() ? label(*stall_.scope()) : "";
  out["buffered_send"] = up_.size();
  out["deferred"] = deferred_;  // nghttp2 waits for this tunnel's next local read
  out["reading"] = local_ && (local_->events() & UV_READABLE) != 0;
  out["buffered_receive"] = down_.size();
  out["buffer_charged"] = charge_.charged();  // both buffers' capacity, as limits.buffer_memory counts it
  if (conn_.ready() && stream_id_ > 0 && !stream_closed_) {
    out["send_window"] = conn_.send_window(stream_id_);
    out["receive_window"] = conn_.receive_window(stream_id_);
    out["receive_window_size"] = conn_.receive_window_size(stream_id_);
  }
}

void Tunnel::attach_local(std::unique_ptr<net::ByteStream> local) {
  local_ = std::move(local);
  local_->attach(*this);
}

Tunnel::Handoff Tunnel::release_local() {
  local_->detach();
  finished_ = true;
  return {std::move(local_), std::move(info_)};
}

void Tunnel::start_relay() {
  relaying_ = true;
  write_local();  // bytes or END_STREAM that arrived while the upstream was being dialled
}

void Tunnel::update_interest() {
  if (!local_) return;
  int events = 0;
  window_waiting_ = false;
  if (relaying_ && !local_eof_ && up_.size() < conn_.config().socket.read_size) {
    if (read_room() > 0) {
      events |= UV_READABLE;
    } else if (!holds_bytes()) {
      window_waiting_ = true;  // at the budget, the peer takes nothing now: on_window_update()
    } else {
      if (local_->events() & UV_READABLE) conn_.metrics().budget_deferrals[conn_.role()].add();
      charge_.wait();
    }
  }
  if (!down_.empty()) events |= UV_WRITABLE;
  local_->watch(events);
}

size_t Tunnel::read_room() const {
  const size_t read_size = conn_.config().socket.read_size;
  if (up_.size() >= read_size) return 0;
  size_t room = std::min<size_t>(read_chunk_, read_size - up_.size());
  // At the budget, a tunnel holding nothing reads no more than the peer's windows take at
  // once: its stream's, and the connection's less what its other streams hold unsent.
  return charge_.read_room(up_, room, read_size, holds_bytes(), [this] {
    int64_t window = std::min<int64_t>(conn_.send_window(stream_id_), conn_.connection_send_window() - conn_.unsent());
    return static_cast<size_t>(std::max<int64_t>(window, 0));
  });
}

void Tunnel::on_io(int status, int events) {
  if (status < 0) {
    int err = local_->error();
    reset_both(NGHTTP2_CANCEL, err ? std::strerror(err) : uv_strerror(status));
    return;
  }
  if (events & UV_WRITABLE) write_local();
  if (local_ && (events & UV_READABLE)) read_local();
}

void Tunnel::read_local() {
  const size_t read_size = conn_.config().socket.read_size;
  size_t room = read_room();
  if (room == 0) {
    update_interest();  // it waits: for the budget, the peer's windows or its own sending
    return;
  }
  auto space = up_.prepare(room, read_size);
  recharge();  // now, not after the read: a read that finds nothing keeps the buffer too
  ssize_t n = local_->read(space.data(), room);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    reset_both(NGHTTP2_CANCEL, std::strerror(errno));
    return;
  }
  if (n == 0) {
    local_eof_ = true;
  } else {
    if (up_.empty()) queued_since_ = std::chrono::steady_clock::now();
    up_.commit(static_cast<size_t>(n));
    recharge();
    count_up(static_cast<size_t>(n));
    // A read that filled its chunk: a bulk sender; fewer, larger reads from now on.
    if (static_cast<size_t>(n) == room) read_chunk_ = std::min<size_t>(read_chunk_ * 2, read_size);
  }
  if (deferred_) {
    deferred_ = false;
    conn_.resume(stream_id_);
  } else {
    conn_.schedule_flush();
  }
  update_interest();
  update_stall();
}

long Tunnel::next_data(size_t max, bool* eof) {
  if (up_.empty() && !local_eof_) {
    deferred_ = true;
    return -1;
  }
  size_t n = std::min(max, up_.size());
  if (local_eof_ && n == up_.size()) {
    *eof = true;
    end_stream_sent_ = true;
  }
  return static_cast<long>(n);
}

void Tunnel::outgoing_sent(size_t n) {
  up_.consume(n);
  // At the budget an empty buffer goes back at once, not after an idle second: the small
  // reads of tunnels that held nothing must not stay charged past it.
  if (up_.empty() && charge_.exhausted()) up_.shrink();
  recharge();
  queued_since_ = {};
  update_interest();
  update_stall();
  maybe_finish();
}

void Tunnel::on_peer_data(const uint8_t* data, size_t n) {
  count_down(n);
  if (finished_) {
    acknowledge(n);  // local side is gone; keep the connection window flowing
    return;
  }
  if (local_ && relaying_ && down_.empty()) {
    received_.push_back({const_cast<uint8_t*>(data), n});
    if (received_.size() == kMaxGather) write_received();
    return;
  }
  down_.append(data, n);
  recharge();
  update_interest();
}

size_t Tunnel::pending_received() const {
  size_t total = 0;
  for (const iovec& chunk : received_) total += chunk.iov_len;
  return total;
}

void Tunnel::write_received() {
  if (received_.empty()) return;
  size_t total = pending_received();
  ssize_t w = local_->write(received_.data(), received_.size());
  if (w < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      int err = errno;
      drop_received();
      reset_both(NGHTTP2_CANCEL, std::strerror(err));
      return;
    }
    w = 0;
  }
  credit_written(static_cast<size_t>(w));
  // What the socket did not take is copied aside: the chunks' buffer is about to be reused.
  size_t skip = static_cast<size_t>(w);
  for (const iovec& chunk : received_) {
    size_t taken = std::min(skip, chunk.iov_len);
    down_.append(static_cast<const uint8_t*>(chunk.iov_base) + taken, chunk.iov_len - taken);
    skip -= taken;
  }
  received_.clear();
  if (static_cast<size_t>(w) < total) {
    recharge();
    update_interest();
  }
}

void Tunnel::drop_received() {
  size_t total = pending_received();
  received_.clear();
  acknowledge(total);
}

void Tunnel::write_local() {
  if (!local_ || !relaying_) return;
  write_received();  // they come before anything in down_, and before a FIN
  if (!local_) return;
  while (!down_.empty()) {
    ssize_t w = local_->write(down_.data(), down_.size());
    if (w > 0) {
      down_.consume(static_cast<size_t>(w));
      credit_written(static_cast<size_t>(w));
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
    reset_both(NGHTTP2_CANCEL, std::strerror(errno));
    return;
  }
  recharge();
  if (down_.empty()) {
    if (peer_eof_ && !fin_written_) {
      local_->shutdown_write();
      fin_written_ = true;
    }
  }
  update_interest();
  maybe_finish();
}

void Tunnel::acknowledge(size_t n) { conn_.consume(stream_id_, n); }

void Tunnel::credit_written(size_t n) {
  // The connection's window always: other tunnels on the connection must not wait for
  // this one's consumer.
  conn_.consume_connection(n);
  if (holds_bytes() && charge_.exhausted()) {
    owed_ += n;
    charge_.wait();
    return;
  }
  conn_.consume_stream(stream_id_, n + std::exchange(owed_, 0));
}

void Tunnel::on_peer_end_stream() {
  peer_eof_ = true;
  write_local();
}

void Tunnel::on_stream_closed(uint32_t error_code) {
  stream_closed_ = true;
  // A reset, or a stream that ended before our side sent END_STREAM: the local
  // application must see a reset too, not a clean close.
  if (!finished_ && (error_code != NGHTTP2_NO_ERROR || (local_ && !end_stream_sent_))) {
    reset_local(nghttp2_http2_strerror(error_code));
  }
  maybe_finish();
}

void Tunnel::fail(uint32_t h2_error, const char* why) { reset_both(h2_error, why); }

void Tunnel::reset_both(uint32_t h2_error, const char* why) {
  if (finished_) return;
  if (!stream_closed_ && stream_id_ > 0) conn_.reset(stream_id_, h2_error);
  reset_local(why);
  maybe_finish();
}

void Tunnel::reset_local(const char* why) {
  // What the local side will never get still counts against the windows: give it back.
  size_t unacked = down_.size();
  down_.consume(unacked);
  acknowledge(unacked);
  drop_received();
  recharge();
  close_local(true);
  finished_ = true;
  record_close(why);
}

void Tunnel::close_local(bool reset) {
  if (!local_) return;
  local_->close(reset);
  local_.reset();
}

void Tunnel::abort() {
  received_.clear();  // the connection and its windows are gone
  if (finished_) return;
  close_local(true);
  finished_ = true;
  record_close("connection closed");
}

void Tunnel::maybe_finish() {
  if (!finished_ && local_ && local_eof_ && end_stream_sent_ && up_.empty() && fin_written_) {
    close_local(false);
    finished_ = true;
    record_close("done");
  }
  if (stream_closed_ && (finished_ || !local_)) conn_.retire_stream(stream_id_);
}

void Tunnel::record_close(const char* how) {
  up_.consume(up_.size());
  up_.shrink();
  down_.shrink();
  recharge();
  update_stall();  // ends any stall in progress
  if (istio_) istio_->closed.add();
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - opened_);
  write_access_log({.role = info_.role,
                    .source = info_.source,
                    .peer = conn_.peer_identity(),
                    .target = info_.target,
                    .route = info_.route,
                    .trace_id = info_.trace_id,
                    .status = status_,
                    .flags = flags_,
                    .policy = decided_by(),
                    .reason = reason_,
                    .sent = bytes_up_,
                    .received = bytes_down_,
                    .duration_ms = age.count(),
                    .close = how});
}

}  // namespace hbone::tunnel
