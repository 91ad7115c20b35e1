#include "client/direct_connection.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace hbone::client {

DirectConnection::DirectConnection(worker::Context& worker, std::unique_ptr<net::ByteStream> app,
                                   const sockaddr_storage& destination, Info info, OnDone done)
    : worker_(worker),
      info_(std::move(info)),
      done_(std::move(done)),
      charge_(worker, metrics::kClient, [this] { update(); }) {
  app_.other = &upstream_;
  upstream_.other = &app_;
  app_.stream = std::move(app);
  net::SocketAddress target;
  target.storage = destination;
  target.length = destination.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  net::DialOptions options = worker_.dial_options(worker_.config.client->connect_timeout);
  options.from = info_.from;
  dialer_ = std::make_unique<net::Dialer>(worker_.loop, std::vector<net::SocketAddress>{target}, options, nullptr,
                                          [this](net::Dialer::Result r) { on_dialed(std::move(r)); });
}

DirectConnection::~DirectConnection() {
  app_.close(/*reset=*/true);
  upstream_.close(/*reset=*/true);
}

void DirectConnection::on_dialed(net::Dialer::Result result) {
  worker_.loop.retire(std::move(dialer_));  // we are inside its callback
  if (result.failure != net::DialFailure::none) {
    spdlog::warn("direct: src={} dst={} route=\"{}\": {} ({})", info_.source, info_.target, info_.route,
                 net::to_string(result.failure), result.detail);
    finish("connect failed", /*reset=*/true);
    return;
  }
  upstream_.stream =
      worker_.socket_stream(std::move(result.fd), worker::Context::SocketUse::local, std::move(result.watcher));
  app_.stream->attach(app_);
  upstream_.stream->attach(upstream_);
  update();
}

void DirectConnection::Side::close(bool reset) {
  if (!stream) return;
  stream->close(reset);
  stream.reset();
}

void DirectConnection::Side::on_io(int status, int events) {
  if (status < 0) {
    int err = stream->error();
    owner.finish(err ? std::strerror(err) : uv_strerror(status), /*reset=*/true);
    return;
  }
  if ((events & UV_WRITABLE) && !write()) return;
  if ((events & UV_READABLE) && !read()) return;
  owner.update();
}

size_t DirectConnection::Side::read_room() const {
  const size_t limit = owner.worker_.config.socket.read_size;
  const ByteBuffer& out = other->pending;
  if (out.size() >= limit) return 0;
  // What it reads is written on at once: no cap beyond the budget's rule.
  return owner.charge_.read_room(out, limit - out.size(), limit, owner.holds_bytes(), [] { return SIZE_MAX; });
}

bool DirectConnection::Side::read() {
  size_t room = read_room();
  if (room == 0) return true;  // update() waits for room
  ByteBuffer& out = other->pending;
  auto space = out.prepare(room, owner.worker_.config.socket.read_size);
  owner.recharge();
  ssize_t n = stream->read(space.data(), room);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    owner.finish(std::strerror(errno), /*reset=*/true);  // RST read: RST written
    return false;
  }
  if (n == 0) {
    eof = true;
  } else {
    out.commit(static_cast<size_t>(n));
    bytes_read += static_cast<uint64_t>(n);
  }
  return other->write();
}

bool DirectConnection::Side::write() {
  while (!pending.empty()) {
    ssize_t n = stream->write(pending.data(), pending.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      owner.finish(std::strerror(errno), /*reset=*/true);
      return false;
    }
    pending.consume(static_cast<size_t>(n));
  }
  if (other->eof && !fin_sent) {
    stream->shutdown_write();
    fin_sent = true;
  }
  pending.shrink();
  owner.recharge();
  return true;
}

bool DirectConnection::Side::update_interest() {
  if (!stream) return false;
  int events = 0;
  bool waits = false;
  if (!eof && other->pending.size() < owner.worker_.config.socket.read_size) {
    if (read_room() > 0) {
      events |= UV_READABLE;
    } else {
      if (stream->events() & UV_READABLE) owner.worker_.metrics.budget_deferrals[metrics::kClient].add();
      waits = true;
    }
  }
  if (!pending.empty()) events |= UV_WRITABLE;
  stream->watch(events);
  return waits;
}

void DirectConnection::update() {
  if (finished_) return;
  if (app_.fin_sent && upstream_.fin_sent) {
    finish("done", /*reset=*/false);
    return;
  }
  if (!upstream_.stream) return;  // still dialling
  bool app_waits = app_.update_interest();
  bool upstream_waits = upstream_.update_interest();
  if (app_waits || upstream_waits) charge_.wait();
}

void DirectConnection::abort(const char* why) { finish(why, /*reset=*/true); }

void DirectConnection::finish(const char* how, bool reset) {
  if (finished_) return;
  finished_ = true;
  app_.close(reset);
  upstream_.close(reset);
  app_.pending.consume(app_.pending.size());
  upstream_.pending.consume(upstream_.pending.size());
  app_.pending.shrink();
  upstream_.pending.shrink();
  recharge();
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - opened_);
  spdlog::info("direct src={} dst={} route=\"{}\" sent={} received={} duration={}ms close=\"{}\"", info_.source,
               info_.target, info_.route, app_.bytes_read, upstream_.bytes_read, age.count(), how);
  done_(this);
}

void DirectConnections::start(std::unique_ptr<net::ByteStream> app, const sockaddr_storage& destination,
                              DirectConnection::Info info) {
  auto relay = std::make_unique<DirectConnection>(worker_, std::move(app), destination, std::move(info),
                                                  [this](DirectConnection* done) {
                                                    auto it = open_.find(done);
                                                    if (it == open_.end()) return;  // close_all owns it now
                                                    worker_.loop.retire(std::move(it->second));  // inside its callback
                                                    open_.erase(it);
                                                  });
  DirectConnection* key = relay.get();
  open_.emplace(key, std::move(relay));
}

void DirectConnections::close_all() {
  auto open = std::move(open_);
  open_.clear();
  for (auto& [key, relay] : open) relay->abort("shutting down");
}

}  // namespace hbone::client
