// hbone-loadgen: a native TCP load generator and echo target for perf/ and the soak test.
// A Python generator topped out near 2,600 connections/s; this one is not the bottleneck.
//
// ADDRESS is PORT (on 127.0.0.1) or IPv4:PORT.
//   hbone-loadgen echo ADDRESS
//       Echo target: returns every byte, ends its side after the peer's FIN.
//   hbone-loadgen run ADDRESS TOTAL CONCURRENCY BYTES [ROUNDS]
//       Opens TOTAL connections to ADDRESS, at most CONCURRENCY at once; each sends
//       BYTES of a pattern derived from its index, checks the echo byte for byte, sends FIN
//       and waits for the peer's. With ROUNDS, all TOTAL connections of a round are held
//       open until every one has its echo (TOTAL concurrent tunnels) or has failed, then
//       all close, and the next round starts. Prints one JSON line per round: completed, failed,
//       corrupted, seconds, setups per second, p50/p99 setup latency (connect to first
//       echoed byte). Exits 1 if any connection failed or was corrupted.
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

uint8_t pattern(uint64_t index, size_t offset) {
  uint64_t x = (index + 1) * 0x9E3779B97F4A7C15ull + offset * 0xBF58476D1CE4E5B9ull;
  return static_cast<uint8_t>((x ^ (x >> 29)) >> 24);
}

void alloc_cb(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
  buf->base = static_cast<char*>(std::malloc(suggested));
  buf->len = suggested;
}

// --- echo target -------------------------------------------------------------------------

struct EchoConn {
  uv_tcp_t tcp;
  bool closing = false;
};

struct EchoWrite {
  uv_write_t req;
  char* data;
};

void echo_close(EchoConn* c) {
  if (c->closing) return;
  c->closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
    std::unique_ptr<EchoConn> owned(static_cast<EchoConn*>(h->data));
  });
}

void echo_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<EchoConn*>(stream->data);
  if (n > 0) {
    auto* w = std::make_unique<EchoWrite>(EchoWrite{{}, buf->base}).release();  // freed in the callback
    uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(n));
    uv_write(&w->req, stream, &out, 1, [](uv_write_t* req, int) {
      std::unique_ptr<EchoWrite> owned(reinterpret_cast<EchoWrite*>(req));
      std::free(owned->data);
    });
    return;
  }
  std::free(buf->base);
  if (n == UV_EOF) {
    auto* req = std::make_unique<uv_shutdown_t>().release();  // freed in the callback
    req->data = c;
    uv_shutdown(req, stream, [](uv_shutdown_t* r, int) {
      std::unique_ptr<uv_shutdown_t> owned(r);
      echo_close(static_cast<EchoConn*>(r->data));
    });
  } else if (n < 0) {
    echo_close(c);
  }
}

// "PORT" or "IPv4:PORT"; false when it is neither.
bool parse_address(const std::string& text, sockaddr_in* addr) {
  size_t colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "127.0.0.1" : text.substr(0, colon);
  std::string port = colon == std::string::npos ? text : text.substr(colon + 1);
  char* end = nullptr;
  long number = std::strtol(port.c_str(), &end, 10);
  return !port.empty() && *end == '\0' && number > 0 && number < 65536 &&
         uv_ip4_addr(host.c_str(), static_cast<int>(number), addr) == 0;
}

int run_echo(const sockaddr_in& addr) {
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  if (uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&addr), 0) != 0) return 1;
  int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 4096, [](uv_stream_t* s, int status) {
    if (status < 0) return;
    auto* c = std::make_unique<EchoConn>().release();  // freed by echo_close
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      echo_close(c);
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), alloc_cb, echo_read);
  });
  if (rc != 0) return 1;
  std::printf("ready\n");
  std::fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}

// --- client ------------------------------------------------------------------------------

struct Round;

struct Client {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_shutdown_t shutdown;
  Round* round;
  uint64_t index;
  std::vector<uint8_t> sent;
  size_t received = 0;
  Clock::time_point started;
  bool failed = false;
  bool echoed = false;
  bool done = false;
};

struct Round {
  uv_loop_t* loop;
  sockaddr_in target;
  uint64_t total, concurrency, bytes;
  bool hold;  // keep each connection until all of the round have echoed
  // `settled`: echoed, or ended before its echo (a held round waits for nothing more).
  uint64_t started = 0, finished = 0, settled = 0, failed = 0, corrupted = 0;
  std::vector<double> setup_us;
  std::vector<Client*> held;
  Clock::time_point begin;
};

void start_next(Round* r);
void settle(Round* r);

void finish(Client* c) {
  if (c->done) return;
  c->done = true;
  Round* r = c->round;
  if (r->hold) std::erase(r->held, c);
  if (!c->echoed) {
    ++r->settled;
    if (r->hold) settle(r);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
    std::unique_ptr<Client> owned(static_cast<Client*>(h->data));
    Round* r = owned->round;
    ++r->finished;
    if (owned->failed) ++r->failed;
    start_next(r);
  });
}

void send_fin(Client* c) {
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, reinterpret_cast<uv_stream_t*>(&c->tcp), [](uv_shutdown_t* req, int status) {
        if (status < 0) {
          auto* client = static_cast<Client*>(req->data);
          client->failed = true;
          finish(client);
        }
      }) != 0) {
    c->failed = true;
    finish(c);
  }
}

// Once every connection of a held round has its echo (all its tunnels are open at once)
// or has failed, the held ones close. A failure must not leave the round waiting forever.
void settle(Round* r) {
  if (r->settled < r->total) return;
  std::vector<Client*> held = std::move(r->held);
  r->held.clear();
  for (Client* h : held) send_fin(h);
}

void on_echoed(Client* c) {
  Round* r = c->round;
  c->echoed = true;
  ++r->settled;
  if (!r->hold) {
    send_fin(c);
    return;
  }
  r->held.push_back(c);
  settle(r);
}

void client_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Client*>(stream->data);
  if (n > 0) {
    Round* r = c->round;
    if (c->received == 0) {
      r->setup_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - c->started).count());
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (c->received + static_cast<size_t>(i) >= c->sent.size() ||
          static_cast<uint8_t>(buf->base[i]) != c->sent[c->received + static_cast<size_t>(i)]) {
        ++r->corrupted;
        c->failed = true;
        break;
      }
    }
    c->received += static_cast<size_t>(n);
    std::free(buf->base);
    if (c->failed) {
      finish(c);
    } else if (c->received == c->sent.size()) {
      on_echoed(c);
    }
    return;
  }
  std::free(buf->base);
  if (n < 0) {
    // The peer's FIN is the normal end, but only after the whole echo.
    if (n != UV_EOF || c->received != c->sent.size()) c->failed = true;
    finish(c);
  }
}

void start_one(Round* r) {
  auto* c = std::make_unique<Client>().release();  // freed by finish()
  c->round = r;
  c->index = r->started++;
  c->sent.resize(r->bytes);
  for (size_t i = 0; i < r->bytes; ++i) c->sent[i] = pattern(c->index, i);
  c->started = Clock::now();
  uv_tcp_init(r->loop, &c->tcp);
  c->tcp.data = c;
  c->connect.data = c;
  int rc = uv_tcp_connect(&c->connect, &c->tcp, reinterpret_cast<const sockaddr*>(&r->target),
                          [](uv_connect_t* req, int status) {
                            auto* client = static_cast<Client*>(req->data);
                            if (status < 0) {
                              client->failed = true;
                              finish(client);
                              return;
                            }
                            uv_tcp_nodelay(&client->tcp, 1);
                            auto* stream = reinterpret_cast<uv_stream_t*>(&client->tcp);
                            uv_read_start(stream, alloc_cb, client_read);
                            uv_buf_t out = uv_buf_init(reinterpret_cast<char*>(client->sent.data()),
                                                       static_cast<unsigned>(client->sent.size()));
                            uv_write(&client->write, stream, &out, 1, [](uv_write_t* w, int status) {
                              if (status < 0) {
                                auto* cl = static_cast<Client*>(w->handle->data);
                                cl->failed = true;
                                finish(cl);
                              }
                            });
                          });
  if (rc != 0) {
    c->failed = true;
    finish(c);
  }
}

void start_next(Round* r) {
  while (r->started < r->total && r->started - r->finished < r->concurrency) start_one(r);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int run_clients(const sockaddr_in& target, uint64_t total, uint64_t concurrency, uint64_t bytes, int rounds) {
  raise_fd_limit();
  bool ok = true;
  for (int i = 0; i < std::max(rounds, 1); ++i) {
    Round r{};
    r.loop = uv_default_loop();
    r.target = target;
    r.total = total;
    r.concurrency = rounds > 0 ? total : concurrency;
    r.bytes = std::max<uint64_t>(bytes, 1);
    r.hold = rounds > 0;
    r.begin = Clock::now();
    start_next(&r);
    uv_run(r.loop, UV_RUN_DEFAULT);
    double seconds = std::chrono::duration<double>(Clock::now() - r.begin).count();
    std::printf("{\"round\": %d, \"completed\": %llu, \"failed\": %llu, \"corrupted\": %llu, "
                "\"seconds\": %.3f, \"setups_per_second\": %.0f, \"setup_p50_us\": %.0f, "
                "\"setup_p99_us\": %.0f}\n",
                i + 1, static_cast<unsigned long long>(r.finished - r.failed),
                static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.corrupted),
                seconds, static_cast<double>(r.finished) / seconds, percentile(r.setup_us, 0.5),
                percentile(r.setup_us, 0.99));
    std::fflush(stdout);
    ok = ok && r.failed == 0 && r.corrupted == 0;
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an error result, not death
  std::vector<std::string> args(argv + 1, argv + argc);
  sockaddr_in address{};
  bool addressed = args.size() >= 2 && parse_address(args[1], &address);
  if (addressed && args.size() == 2 && args[0] == "echo") {
    raise_fd_limit();
    return run_echo(address);
  }
  if (addressed && (args.size() == 5 || args.size() == 6) && args[0] == "run") {
    return run_clients(address, std::stoull(args[2]), std::stoull(args[3]), std::stoull(args[4]),
                       args.size() == 6 ? std::stoi(args[5]) : 0);
  }
  std::fprintf(stderr,
               "usage: hbone-loadgen echo [IPv4:]PORT\n"
               "       hbone-loadgen run [IPv4:]PORT TOTAL CONCURRENCY BYTES [ROUNDS]\n");
  return 2;
}
