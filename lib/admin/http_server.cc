#include "admin/http_server.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>
#include <string_view>
#include <system_error>

#include "address/reserved.h"

namespace hbone::admin {

namespace {

constexpr uint64_t kListener = 0, kStop = 1, kDone = 2, kFirstConnection = 3;
// After the answer, what the peer still sends is read for this long before the socket
// closes: closing with unread bytes resets the connection, and a reset can destroy the
// answer before the peer has read it (a 413 while the body is still coming).
constexpr std::chrono::seconds kLinger{1};
constexpr std::chrono::milliseconds kAcceptPause{100};

std::string response_bytes(const HttpResult& result, bool with_body) {
  std::string out = "HTTP/1.1 " + std::to_string(result.status) + " " +
                    http_status_str(static_cast<http_status>(result.status)) +
                    "\r\nContent-Type: " + result.content_type +
                    "\r\nContent-Length: " + std::to_string(result.body.size()) +
                    "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  if (with_body) out += result.body;
  return out;
}

// The peer's address without its port, as bytes: the per-source count's key.
std::string source_key(const sockaddr_storage& peer) {
  sockaddr_storage plain = address::unmapped(reinterpret_cast<const sockaddr*>(&peer));
  if (plain.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(plain).sin_addr;
    return {reinterpret_cast<const char*>(&in), sizeof in};
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(plain).sin6_addr;
  return {reinterpret_cast<const char*>(&in6), sizeof in6};
}

// Admin connections must not take the descriptors tunnels need: at most an eighth of the
// process's limit (the data path keeps its own reserve below that, DescriptorReserve).
unsigned descriptor_share(unsigned wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return wanted;
  return std::clamp<unsigned>(static_cast<unsigned>(std::min<rlim_t>(limit.rlim_cur / 8, UINT_MAX)), 16, wanted);
}

}  // namespace

struct HttpServer::Connection {
  enum class Phase { reading, handling, writing, lingering };

  Connection(uint64_t id, net::Fd fd, std::string source, const Limits& limits)
      : id(id), fd(std::move(fd)), source(std::move(source)), reader(limits.max_head, limits.max_body) {}

  uint64_t id;
  net::Fd fd;
  std::string source;
  Phase phase = Phase::reading;
  RequestReader reader;
  bool heard = false;  // a byte arrived: a close before the request ends is a bad request
  std::string out;
  size_t sent = 0;
  std::optional<Clock::time_point> deadline;
  std::list<uint64_t>::iterator in_reading;  // valid while reading
};

HttpServer::HttpServer(net::Fd listener, Handler handler, Limits limits)
    : listener_(std::move(listener)),
      epoll_(epoll_create1(EPOLL_CLOEXEC)),
      stop_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      done_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      handler_(std::move(handler)),
      limits_(limits),
      next_id_(kFirstConnection) {
  if (!epoll_ || !stop_ || !done_) throw std::system_error(errno, std::generic_category(), "admin server");
  limits_.max_connections = descriptor_share(limits_.max_connections);
  for (auto [fd, id] : {std::pair{listener_.get(), kListener}, {stop_.get(), kStop}, {done_.get(), kDone}}) {
    epoll_event ev{.events = EPOLLIN, .data = {.u64 = id}};
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      throw std::system_error(errno, std::generic_category(), "epoll_ctl");
    }
  }
  io_ = std::thread(&HttpServer::run, this);
}

HttpServer::~HttpServer() {
  uint64_t one = 1;
  (void)!write(stop_.get(), &one, sizeof one);
  io_.join();
  reap_handlers(/*all=*/true);
}

void HttpServer::run() {
  epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epoll_.get(), events, 64, next_timeout_ms());
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kStop) return;  // the connections close with the server
      on_event(events[i].data.u64, events[i].events);
    }
    expire();
  }
}

void HttpServer::on_event(uint64_t id, uint32_t events) {
  if (id == kListener) {
    accept_all();
    return;
  }
  if (id == kDone) {
    uint64_t count;
    (void)!read(done_.get(), &count, sizeof count);
    take_answers();
    reap_handlers(/*all=*/false);
    return;
  }
  auto it = connections_.find(id);
  if (it == connections_.end()) return;  // closed earlier in this batch
  Connection& c = *it->second;
  if (c.phase == Connection::Phase::writing && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    on_writable(c);
  } else if (c.phase == Connection::Phase::reading || c.phase == Connection::Phase::lingering) {
    on_readable(c);
  } else if (events & (EPOLLERR | EPOLLHUP)) {
    close(c);  // gone while its handler runs (reported whatever is watched, so it must go now)
  }
}

void HttpServer::accept_all() {
  for (int i = 0; i < 64; ++i) {  // then the connections' own events get their turn
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    net::Fd fd(accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The connection waits in the backlog; a level-triggered listener would spin.
        epoll_event ev{.events = 0, .data = {.u64 = kListener}};
        epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), &ev);
        listener_paused_until_ = Clock::now() + kAcceptPause;
      }
      return;
    }
    std::string source = source_key(peer);
    auto counted = per_source_.find(source);
    if (counted != per_source_.end() && counted->second >= limits_.max_per_source) continue;  // closed unanswered
    if (connections_.size() >= limits_.max_connections) {
      if (reading_.empty()) continue;  // every one is being answered: this one waits its turn elsewhere
      close(*connections_.at(reading_.front()));  // the oldest that has not finished asking
    }
    ++per_source_[source];  // only sources with a connection are kept
    uint64_t id = next_id_++;
    auto conn = std::make_unique<Connection>(id, std::move(fd), std::move(source), limits_);
    Connection& c = *conn;
    connections_.emplace(id, std::move(conn));
    c.in_reading = reading_.insert(reading_.end(), id);
    epoll_event ev{.events = EPOLLIN, .data = {.u64 = id}};
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev) != 0) {
      close(c);
      continue;
    }
    set_deadline(c, Clock::now() + limits_.request_timeout);
  }
}

void HttpServer::on_readable(Connection& c) {
  char buf[4096];
  while (c.phase == Connection::Phase::reading || c.phase == Connection::Phase::lingering) {
    ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (c.phase == Connection::Phase::lingering) {
      if (n > 0) continue;
      close(c);  // the peer's end, or an error: nothing more to wait for
      return;
    }
    auto state = RequestReader::State::incomplete;
    if (n > 0) {
      c.heard = true;
      state = c.reader.feed({buf, static_cast<size_t>(n)});
    } else if (n == 0 && c.heard) {
      state = c.reader.finish();
    }
    if (n <= 0 && state == RequestReader::State::incomplete) {
      close(c);  // silence, then a close or an error: nobody to answer
      return;
    }
    switch (state) {
      case RequestReader::State::incomplete: break;
      case RequestReader::State::complete: dispatch(c); return;
      case RequestReader::State::bad: answer(c, {400, "text/plain", "bad request\n"}, true); return;
      case RequestReader::State::head_too_large:
        answer(c, {431, "text/plain", "request head too large\n"}, true);
        return;
      case RequestReader::State::body_too_large: answer(c, {413, "text/plain", "body too large\n"}, true); return;
    }
  }
}

void HttpServer::dispatch(Connection& c) {
  bool with_body = c.reader.request().method != "HEAD";
  if (running_handlers_ >= limits_.max_handlers) {
    answer(c, {503, "text/plain", "busy\n"}, with_body);
    return;
  }
  reading_.erase(c.in_reading);
  c.phase = Connection::Phase::handling;
  deadlines_.erase({*c.deadline, c.id});  // a handler takes what it takes (a CPU profile)
  c.deadline.reset();
  watch(c, 0);
  std::lock_guard lock(mu_);
  HandlerThread& h = handlers_.emplace_back();
  try {
    h.thread = std::thread([this, id = c.id, request = c.reader.request(), with_body, self = &h] {
      HttpResult result;
      try {
        result = handler_(request);
      } catch (const std::exception& e) {
        result = HttpResult{500, "text/plain", std::string(e.what()) + "\n"};
      }
      {
        std::lock_guard lock(mu_);
        answers_.push_back({id, std::move(result), with_body});
        self->done = true;
      }
      uint64_t one = 1;
      (void)!write(done_.get(), &one, sizeof one);
    });
  } catch (const std::system_error&) {  // no thread to be had
    handlers_.pop_back();
    answer(c, {503, "text/plain", "busy\n"}, with_body);
    return;
  }
  ++running_handlers_;
}

void HttpServer::take_answers() {
  std::deque<Answer> ready;
  {
    std::lock_guard lock(mu_);
    ready.swap(answers_);
  }
  for (Answer& a : ready) {
    --running_handlers_;
    auto it = connections_.find(a.id);
    if (it != connections_.end()) answer(*it->second, a.result, a.with_body);
  }
}

void HttpServer::reap_handlers(bool all) {
  std::list<HandlerThread> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = handlers_.begin(); it != handlers_.end();) {
      auto next = std::next(it);
      if (all || it->done) finished.splice(finished.end(), handlers_, it);
      it = next;
    }
  }
  for (HandlerThread& h : finished) h.thread.join();  // without mu_: a finishing handler takes it
}

void HttpServer::answer(Connection& c, const HttpResult& result, bool with_body) {
  if (c.phase == Connection::Phase::reading) reading_.erase(c.in_reading);
  c.phase = Connection::Phase::writing;
  c.out = response_bytes(result, with_body);
  c.sent = 0;
  set_deadline(c, Clock::now() + limits_.write_timeout);
  watch(c, EPOLLOUT);
  on_writable(c);
}

void HttpServer::on_writable(Connection& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      close(c);
      return;
    }
  }
  linger(c);
}

void HttpServer::linger(Connection& c) {
  c.out = {};
  shutdown(c.fd.get(), SHUT_WR);
  c.phase = Connection::Phase::lingering;
  set_deadline(c, Clock::now() + kLinger);
  watch(c, EPOLLIN);
  on_readable(c);
}

void HttpServer::close(Connection& c) {
  if (c.phase == Connection::Phase::reading) reading_.erase(c.in_reading);
  if (c.deadline) deadlines_.erase({*c.deadline, c.id});
  auto source = per_source_.find(c.source);
  if (--source->second == 0) per_source_.erase(source);
  // A handler still running for it answers into the void (take_answers finds no connection).
  connections_.erase(c.id);  // closes the socket, which leaves the epoll set
}

void HttpServer::set_deadline(Connection& c, Clock::time_point when) {
  if (c.deadline) deadlines_.erase({*c.deadline, c.id});
  c.deadline = when;
  deadlines_.insert({when, c.id});
}

void HttpServer::watch(const Connection& c, uint32_t events) {
  epoll_event ev{.events = events, .data = {.u64 = c.id}};
  epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
}

int HttpServer::next_timeout_ms() const {
  std::optional<Clock::time_point> next;
  if (!deadlines_.empty()) next = deadlines_.begin()->first;
  if (listener_paused_until_ != Clock::time_point{}) next = std::min(next.value_or(listener_paused_until_), listener_paused_until_);
  if (!next) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()).count();
  return static_cast<int>(std::clamp<decltype(left)>(left, 0, INT_MAX));
}

void HttpServer::expire() {
  auto now = Clock::now();
  if (listener_paused_until_ != Clock::time_point{} && listener_paused_until_ <= now) {
    listener_paused_until_ = {};
    epoll_event ev{.events = EPOLLIN, .data = {.u64 = kListener}};
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), &ev);
  }
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    // A request not sent in time gets no answer; an answer not taken in time, or a
    // lingering peer, is simply closed.
    close(*connections_.at(deadlines_.begin()->second));
  }
}

}  // namespace hbone::admin
