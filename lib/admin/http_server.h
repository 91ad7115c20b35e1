#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

#include "admin/http_message.h"
#include "net/fd.h"

namespace hbone::admin {

// The admin endpoints' HTTP/1.1 server, off the event loops: one thread accepts, one
// thread per connection reads a request, answers it (`Connection: close`) and closes. A
// handler that takes long (a CPU profile) holds only its own connection.
class HttpServer {
 public:
  using Handler = std::function<HttpResult(const HttpRequest&)>;
  struct Limits {
    unsigned max_connections = 16;  // connections beyond are answered 503 at once
    std::chrono::milliseconds io_timeout{60'000};  // to receive a request; per write
    size_t max_head = 16 * 1024;
    size_t max_body = 64 * 1024;  // read and dropped: no endpoint takes a body
  };

  // Serves `listener` (a listening socket) until destroyed.
  HttpServer(net::Fd listener, Handler handler, Limits limits);
  // Stops accepting, wakes every connection and joins it: a handler still running
  // finishes first.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  struct Connection {
    std::thread thread;
    bool done = false;  // under mu_: the thread has returned or is about to
  };

  void accept_loop();
  void serve(net::Fd fd, Connection* self);
  void reap_locked();

  net::Fd listener_;
  net::Fd stop_;  // an eventfd, readable once the server stops
  Handler handler_;
  Limits limits_;
  std::mutex mu_;
  std::list<Connection> connections_;  // a list: serve() keeps a pointer to its entry
  std::thread acceptor_;
};

}  // namespace hbone::admin
