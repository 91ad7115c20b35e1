#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "admin/http_message.h"
#include "net/fd.h"

namespace hbone::admin {

// The admin endpoints' HTTP/1.1 server, off the event loops. One thread multiplexes every
// connection (epoll): it accepts, reads requests, writes answers (`Connection: close`) and
// closes; only a complete request takes a handler thread, so a handler that takes long (a
// CPU profile) holds its own connection and nothing else. Idle or slow clients cost a
// descriptor each, never a thread: with hundreds of them held open, a probe on a new
// connection is still answered at once (the metrics listener is open to every pod).
class HttpServer {
 public:
  using Handler = std::function<HttpResult(const HttpRequest&)>;
  struct Limits {
    // Connections held at once; a new one beyond closes the oldest still sending its request.
    unsigned max_connections = 1024;
    // Connections from one address at once; one beyond is closed unanswered.
    unsigned max_per_source = 32;
    // Requests being handled at once; beyond, 503.
    unsigned max_handlers = 16;
    std::chrono::milliseconds request_timeout{5'000};  // from accept to the end of the request
    std::chrono::milliseconds write_timeout{10'000};   // to write the answer
    size_t max_head = 16 * 1024;
    size_t max_body = 64 * 1024;  // read and dropped: no endpoint takes a body
  };

  // Serves `listener` (a listening socket) until destroyed. Throws std::system_error.
  HttpServer(net::Fd listener, Handler handler, Limits limits);
  // Stops accepting and closes every connection; a handler still running finishes first.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection;
  struct Answer {
    uint64_t id;
    HttpResult result;
    bool with_body;
  };

  void run();
  void on_event(uint64_t id, uint32_t events);
  void accept_all();
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  // A complete request goes to a handler thread (or gets 503 when all are busy).
  void dispatch(Connection& c);
  void answer(Connection& c, const HttpResult& result, bool with_body);
  void linger(Connection& c);
  void close(Connection& c);
  void set_deadline(Connection& c, Clock::time_point when);
  void watch(const Connection& c, uint32_t events);
  void take_answers();
  void reap_handlers(bool all);
  int next_timeout_ms() const;
  void expire();

  net::Fd listener_;
  net::Fd epoll_;
  net::Fd stop_;  // an eventfd: readable once the server stops
  net::Fd done_;  // an eventfd: a handler has finished
  Handler handler_;
  Limits limits_;
  Clock::time_point listener_paused_until_{};  // out of descriptors: accept again then

  // The I/O thread's own: connections by id, their deadlines, who still sends a request
  // (oldest first, the first to go when the server is full), connections per source.
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines_;
  std::list<uint64_t> reading_;
  std::map<std::string, unsigned> per_source_;
  uint64_t next_id_;

  struct HandlerThread {
    std::thread thread;
    bool done = false;  // under mu_
  };
  std::mutex mu_;  // the handlers' list and their answers
  std::list<HandlerThread> handlers_;
  std::deque<Answer> answers_;
  unsigned running_handlers_ = 0;  // I/O thread only

  std::thread io_;  // last: starts once everything above exists
};

}  // namespace hbone::admin
