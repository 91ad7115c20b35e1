#include "admin/http_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace hbone::admin {

namespace {

using Clock = std::chrono::steady_clock;

enum class Ready { yes, timed_out, stopping };

// Waits for `events` on `fd` or for the server to stop, whichever comes first.
Ready wait_for(int fd, short events, int stop_fd, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(fds, 2, static_cast<int>(std::clamp<decltype(left)>(left, 0, INT_MAX)));
    if (n < 0 && errno == EINTR) continue;
    if (fds[1].revents) return Ready::stopping;
    // Errors and hang-ups count as ready: the next recv or send reports them.
    return n > 0 ? Ready::yes : Ready::timed_out;
  }
}

bool send_all(int fd, std::string_view bytes, int stop_fd, std::chrono::milliseconds timeout) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait_for(fd, POLLOUT, stop_fd, Clock::now() + timeout) != Ready::yes) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Reads what the peer still sends, for up to a second, before the socket closes: closing
// with unread bytes resets the connection, and a reset can destroy the answer before the
// peer has read it (a 413 while the body is still coming).
void linger(int fd, int stop_fd) {
  shutdown(fd, SHUT_WR);
  auto deadline = Clock::now() + std::chrono::seconds(1);
  char sink[4096];
  while (wait_for(fd, POLLIN, stop_fd, deadline) == Ready::yes) {
    ssize_t n = recv(fd, sink, sizeof sink, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
  }
}

std::string response_bytes(const HttpResult& result, bool with_body) {
  std::string out = "HTTP/1.1 " + std::to_string(result.status) + " " +
                    http_status_str(static_cast<http_status>(result.status)) +
                    "\r\nContent-Type: " + result.content_type +
                    "\r\nContent-Length: " + std::to_string(result.body.size()) +
                    "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  if (with_body) out += result.body;
  return out;
}

}  // namespace

HttpServer::HttpServer(net::Fd listener, Handler handler, Limits limits)
    : listener_(std::move(listener)),
      stop_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      handler_(std::move(handler)),
      limits_(limits) {
  if (!stop_) throw std::system_error(errno, std::generic_category(), "eventfd");
  acceptor_ = std::thread(&HttpServer::accept_loop, this);
}

HttpServer::~HttpServer() {
  uint64_t one = 1;
  (void)!write(stop_.get(), &one, sizeof one);  // stays readable: wakes every wait_for
  acceptor_.join();
  std::list<Connection> all;
  {
    std::lock_guard lock(mu_);
    all.splice(all.end(), connections_);  // entries keep their addresses
  }
  for (Connection& c : all) c.thread.join();  // without mu_: serve() takes it to finish
}

void HttpServer::accept_loop() {
  while (wait_for(listener_.get(), POLLIN, stop_.get(), Clock::time_point::max()) == Ready::yes) {
    net::Fd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      // Out of descriptors or memory: the connection waits in the backlog; retrying at
      // once would spin.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        wait_for(-1, 0, stop_.get(), Clock::now() + std::chrono::milliseconds(100));
      }
      continue;
    }
    std::lock_guard lock(mu_);
    reap_locked();
    if (connections_.size() >= limits_.max_connections) {
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!send(fd.get(), kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;
    }
    Connection& c = connections_.emplace_back();
    try {
      c.thread = std::thread(&HttpServer::serve, this, std::move(fd), &c);
    } catch (const std::system_error&) {  // no thread to be had: the socket closes
      connections_.pop_back();
    }
  }
}

void HttpServer::reap_locked() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    it->thread.join();
    it = connections_.erase(it);
  }
}

void HttpServer::serve(net::Fd fd, Connection* self) {
  RequestReader reader(limits_.max_head, limits_.max_body);
  auto deadline = Clock::now() + limits_.io_timeout;
  auto state = RequestReader::State::incomplete;
  bool heard = false;
  char buf[4096];
  while (state == RequestReader::State::incomplete &&
         wait_for(fd.get(), POLLIN, stop_.get(), deadline) == Ready::yes) {
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      heard = true;
      state = reader.feed({buf, static_cast<size_t>(n)});
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      state = heard && n == 0 ? reader.finish() : RequestReader::State::incomplete;
      break;
    }
  }
  std::optional<HttpResult> result;
  switch (state) {
    case RequestReader::State::incomplete: break;  // silence, a timeout or a stop: no answer
    case RequestReader::State::complete:
      try {
        result = handler_(reader.request());
      } catch (const std::exception& e) {
        result = HttpResult{500, "text/plain", std::string(e.what()) + "\n"};
      }
      break;
    case RequestReader::State::bad: result = HttpResult{400, "text/plain", "bad request\n"}; break;
    case RequestReader::State::head_too_large:
      result = HttpResult{431, "text/plain", "request head too large\n"};
      break;
    case RequestReader::State::body_too_large: result = HttpResult{413, "text/plain", "body too large\n"}; break;
  }
  if (result) {
    bool with_body = !(state == RequestReader::State::complete && reader.request().method == "HEAD");
    if (send_all(fd.get(), response_bytes(*result, with_body), stop_.get(), limits_.io_timeout)) {
      linger(fd.get(), stop_.get());
    }
  }
  std::lock_guard lock(mu_);
  self->done = true;
}

}  // namespace hbone::admin
