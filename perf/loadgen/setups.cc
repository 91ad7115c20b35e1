// Connection setups: TOTAL short connections, CONCURRENCY at once, or held rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <sys/resource.h>

#include "common.h"

namespace loadgen {
namespace {

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

// This process's CPU so far: what a connection costs its client side is the control for
// what a tunnel costs the gateway, which dials the same way.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

}  // namespace

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
    double cpu = cpu_seconds();
    start_next(&r);
    uv_run(r.loop, UV_RUN_DEFAULT);
    double seconds = std::chrono::duration<double>(Clock::now() - r.begin).count();
    cpu = cpu_seconds() - cpu;
    std::printf("{\"round\": %d, \"completed\": %llu, \"failed\": %llu, \"corrupted\": %llu, "
                "\"seconds\": %.3f, \"setups_per_second\": %.0f, \"setup_p50_us\": %.0f, "
                "\"setup_p99_us\": %.0f, \"cpu_us_per_setup\": %.1f}\n",
                i + 1, static_cast<unsigned long long>(r.finished - r.failed),
                static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.corrupted),
                seconds, static_cast<double>(r.finished) / seconds, percentile(r.setup_us, 0.5),
                percentile(r.setup_us, 0.99), cpu * 1e6 / static_cast<double>(std::max<uint64_t>(r.finished, 1)));
    std::fflush(stdout);
    ok = ok && r.failed == 0 && r.corrupted == 0;
  }
  return ok ? 0 : 1;
}

}  // namespace loadgen
