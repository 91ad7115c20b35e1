#include "client/direct_connection.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "net/socket_ops.h"

namespace hbone::client {

DirectConnection::DirectConnection(worker::Context& worker, net::Fd app, const sockaddr_storage& destination,
                                   Info info, OnDone done)
    : worker_(worker), info_(std::move(info)), done_(std::move(done)) {
  app_.owner = upstream_.owner = this;
  app_.other = &upstream_;
  upstream_.other = &app_;
  app_.fd = std::move(app);
  net::SocketAddress target;
  target.storage = destination;
  target.length = destination.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  net::DialOptions options = worker_.dial_options(worker_.config.client->connect_timeout);
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
  net::apply_socket_options(result.fd.get(), worker_.config.socket);
  app_.attach(worker_.loop.edges(), std::move(app_.fd), std::nullopt);
  upstream_.attach(worker_.loop.edges(), std::move(result.fd), std::move(result.watcher));
  update();
}

void DirectConnection::Side::attach(net::EdgePoller& edges, net::Fd socket, std::optional<net::EdgeWatcher> watcher) {
  fd = std::move(socket);
  poll.emplace(net::EdgeWatcher::adopt(edges, fd.get(), this, std::move(watcher)));
}

void DirectConnection::Side::close(bool reset) { net::close_watched(poll, fd, reset); }

void DirectConnection::Side::on_io(int status, int events) {
  if (status < 0) {
    int err = net::socket_error(fd.get());
    owner->finish(err ? std::strerror(err) : uv_strerror(status), /*reset=*/true);
    return;
  }
  if ((events & UV_WRITABLE) && !write()) return;
  if ((events & UV_READABLE) && !read()) return;
  owner->update();
}

bool DirectConnection::Side::read() {
  size_t limit = owner->worker_.config.socket.read_size;
  ByteBuffer& out = other->pending;
  if (out.size() >= limit) return true;
  size_t room = limit - out.size();
  auto space = out.prepare(room);
  ssize_t n = ::read(fd.get(), space.data(), room);
  poll->read_returned(n, room);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    owner->finish(std::strerror(errno), /*reset=*/true);  // RST read: RST written
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
    ssize_t n = ::send(fd.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0) {
      poll->write_returned(n, pending.size());
      if (errno == EAGAIN || errno == EINTR) return true;
      owner->finish(std::strerror(errno), /*reset=*/true);
      return false;
    }
    pending.consume(static_cast<size_t>(n));
  }
  if (other->eof && !fin_sent) {
    ::shutdown(fd.get(), SHUT_WR);
    fin_sent = true;
  }
  pending.shrink();
  return true;
}

void DirectConnection::Side::update_interest(size_t limit) {
  if (!poll) return;
  int events = 0;
  if (!eof && other->pending.size() < limit) events |= UV_READABLE;
  if (!pending.empty()) events |= UV_WRITABLE;
  poll->watch(events);
}

void DirectConnection::update() {
  if (finished_) return;
  if (app_.fin_sent && upstream_.fin_sent) {
    finish("done", /*reset=*/false);
    return;
  }
  size_t limit = worker_.config.socket.read_size;
  app_.update_interest(limit);
  upstream_.update_interest(limit);
}

void DirectConnection::abort(const char* why) { finish(why, /*reset=*/true); }

void DirectConnection::finish(const char* how, bool reset) {
  if (finished_) return;
  finished_ = true;
  app_.close(reset);
  upstream_.close(reset);
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - opened_);
  spdlog::info("direct src={} dst={} route=\"{}\" sent={} received={} duration={}ms close=\"{}\"", info_.source,
               info_.target, info_.route, app_.bytes_read, upstream_.bytes_read, age.count(), how);
  done_(this);
}

}  // namespace hbone::client
