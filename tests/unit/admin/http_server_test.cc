#include "admin/http_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "admin/http_message.h"
#include "net/listen_socket.h"
#include "support/socket_address.h"

using namespace hbone;
using namespace hbone::admin;
using namespace std::chrono_literals;
using State = RequestReader::State;

namespace {

State feed_bytewise(RequestReader& reader, std::string_view text) {
  State state = State::incomplete;
  for (char c : text) state = reader.feed({&c, 1});
  return state;
}

TEST(RequestReader, ParsesARequestThatArrivesAByteAtATime) {
  RequestReader reader(1024, 0);
  ASSERT_EQ(feed_bytewise(reader, "POST /logging?level=w%61rn&x=a+b&flag&level=info HTTP/1.1\r\n"
                                  "Host: h\r\nContent-Length: 0\r\n\r\n"),
            State::complete);
  const HttpRequest& req = reader.request();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/logging");
  EXPECT_EQ(req.param("level"), "warn");  // the first of two
  EXPECT_EQ(req.param("x"), "a b");
  EXPECT_EQ(req.param("flag"), "");
  EXPECT_EQ(req.query.size(), 4u);
}

TEST(RequestReader, KeepsAMalformedEscapeAsItIs) {
  RequestReader reader(1024, 0);
  ASSERT_EQ(reader.feed("GET /x?a=%zz%4&b=%41 HTTP/1.0\r\n\r\n"), State::complete);
  EXPECT_EQ(reader.request().param("a"), "%zz%4");
  EXPECT_EQ(reader.request().param("b"), "A");
}

TEST(RequestReader, ReadsAndDropsABodyWithinTheLimit) {
  RequestReader reader(1024, 8);
  EXPECT_EQ(reader.feed("POST /q HTTP/1.1\r\nContent-Length: 8\r\n\r\n1234"), State::incomplete);
  EXPECT_EQ(reader.feed("5678GET /next HTTP/1.1\r\n\r\n"), State::complete);
  EXPECT_EQ(reader.request().path, "/q");  // one request per connection: the rest is ignored
}

TEST(RequestReader, RefusesWhatIsNotAnHttp1Request) {
  for (const char* text : {"garbage\r\n\r\n", "GET /x HTTP/2.0\r\n\r\n", "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
                           "GET http://host HTTP/1.1\r\n\r\n"}) {
    RequestReader reader(1024, 0);
    EXPECT_EQ(reader.feed(text), State::bad) << text;
  }
  RequestReader cut(1024, 0);
  EXPECT_EQ(cut.feed("GET /metrics HTTP/1.1\r\n"), State::incomplete);
  EXPECT_EQ(cut.finish(), State::bad);
}

TEST(RequestReader, LimitsTheHeadAndTheBody) {
  std::string head = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n";
  RequestReader exact(head.size(), 0);
  EXPECT_EQ(feed_bytewise(exact, head), State::complete);
  RequestReader small(head.size() - 1, 0);
  EXPECT_EQ(small.feed(head), State::head_too_large);

  RequestReader body(1024, 4);
  EXPECT_EQ(body.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n0\r\n\r\n"),
            State::body_too_large);
}

// An HttpServer on an ephemeral loopback port, answering every request with its path.
class Server {
 public:
  explicit Server(HttpServer::Limits limits, HttpServer::Handler handler = echo_path) {
    net::Fd fd = net::listen_on({"127.0.0.1", 0}, {.reuse_port = false});
    address_ = test::bound_address(fd.get());
    server_.emplace(std::move(fd), std::move(handler), limits);
  }
  net::Fd connect() const { return test::connect_to(address_); }
  // Destroys the server on another thread: false when that takes more than 10 s.
  bool stop_within_10s() {
    auto done = std::async(std::launch::async, [this] { server_.reset(); });
    return done.wait_for(10s) == std::future_status::ready;
  }

 private:
  static HttpResult echo_path(const HttpRequest& req) { return {200, "text/plain", "path " + req.path}; }
  sockaddr_storage address_{};
  std::optional<HttpServer> server_;
};

void send_text(const net::Fd& fd, std::string_view text) {
  ASSERT_EQ(::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

// Everything until the server closes.
std::string read_all(const net::Fd& fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string ask(const Server& server, std::string_view request) {
  net::Fd fd = server.connect();
  send_text(fd, request);
  return read_all(fd);
}

TEST(HttpServer, AnswersAndCloses) {
  Server server({});
  EXPECT_EQ(ask(server, "GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\npath /metrics");
  std::string head = ask(server, "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: 13\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;  // no body
  EXPECT_TRUE(ask(server, "nonsense\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
}

TEST(HttpServer, AHandlersExceptionIsA500) {
  Server server({}, [](const HttpRequest&) -> HttpResult { throw std::runtime_error("broken"); });
  std::string answer = ask(server, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 500 Internal Server Error\r\n")) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nbroken\n")) << answer;
}

TEST(HttpServer, ABodyOverTheLimitIsRefusedWith413) {
  Server server({.max_body = 1024});
  net::Fd fd = server.connect();
  std::string body(256 * 1024, 'x');  // more than the socket buffers hold at once
  send_text(fd, "POST /upload HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  std::thread sender([&] { (void)!::send(fd.get(), body.data(), body.size(), MSG_NOSIGNAL); });
  std::string answer = read_all(fd);
  sender.join();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n")) << answer;
}

TEST(HttpServer, AFullServerClosesTheOldestConnectionStillAsking) {
  Server server({.max_connections = 2});
  net::Fd first = server.connect();
  std::this_thread::sleep_for(50ms);  // accepted first
  net::Fd second = server.connect();  // silent: both held open
  EXPECT_TRUE(ask(server, "GET /third HTTP/1.1\r\n\r\n").ends_with("path /third"));
  EXPECT_EQ(read_all(first), "");  // made room for the third
  send_text(second, "GET /second HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(read_all(second).ends_with("path /second"));
}

TEST(HttpServer, ConnectionsFromOneSourceBeyondItsShareCloseUnanswered) {
  Server server({.max_per_source = 2});
  net::Fd first = server.connect(), second = server.connect();
  EXPECT_EQ(ask(server, "GET / HTTP/1.1\r\n\r\n"), "");
  first.reset();  // a place is free again
  std::string again;
  for (int i = 0; i < 100 && !again.ends_with("path /again"); ++i) {
    std::this_thread::sleep_for(20ms);
    again = ask(server, "GET /again HTTP/1.1\r\n\r\n");
  }
  EXPECT_TRUE(again.ends_with("path /again")) << again;
}

TEST(HttpServer, ASlowHandlerHoldsOnlyItsOwnConnection) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Server server({.max_handlers = 1}, [released](const HttpRequest& req) {
    if (req.path == "/slow") released.wait();
    return HttpResult{200, "text/plain", "path " + req.path};
  });
  net::Fd slow = server.connect();
  send_text(slow, "GET /slow HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(50ms);
  // Its handler runs: the one handler place is taken, but reading and answering go on.
  EXPECT_TRUE(ask(server, "GET /fast HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  release.set_value();
  EXPECT_TRUE(read_all(slow).ends_with("path /slow"));
  EXPECT_TRUE(ask(server, "GET /fast HTTP/1.1\r\n\r\n").ends_with("path /fast"));
}

TEST(HttpServer, ASilentConnectionClosesAfterTheTimeoutUnanswered) {
  Server server({.request_timeout = 200ms});
  net::Fd fd = server.connect();
  send_text(fd, "GET /slow HTTP/1.1\r\n");  // the head never ends
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(read_all(fd), "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(HttpServer, StoppingWakesIdleConnections) {
  auto server = std::make_unique<Server>(HttpServer::Limits{.request_timeout = 60s});
  net::Fd idle = server->connect();
  send_text(idle, "GET /never-finished HTTP/1.1\r\n");
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(server->stop_within_10s());
  EXPECT_EQ(read_all(idle), "");
}

}  // namespace
