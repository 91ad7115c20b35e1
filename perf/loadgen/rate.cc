// Request/response at a fixed rate over keep-alive connections (see main.cc). One timerfd
// (nanosecond deadlines; libuv's timers count milliseconds, more than the latencies
// measured) wakes the loop for the earliest due request.
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <queue>
#include <vector>

#include "common.h"

namespace loadgen {
namespace {

struct Rate;

// One keep-alive connection with at most one request outstanding.
struct Link {
  uv_tcp_t tcp{};
  uv_connect_t connect{};
  uv_write_t write{};
  Rate* run = nullptr;
  uint64_t index = 0;
  std::vector<uint8_t> request;  // its own pattern; the first 8 bytes number the request
  Clock::time_point due{};       // when its next request is due
  size_t received = 0;
  bool closing = false;
};

struct Due {
  Clock::time_point when;
  Link* link;
  bool operator>(const Due& other) const { return when > other.when; }
};

struct Rate {
  uv_loop_t* loop = nullptr;
  sockaddr_in target{};
  Clock::duration interval{};  // between one connection's requests
  Clock::time_point begin{}, end{};  // requests are due in [begin, end)
  Clock::time_point last_answer{};
  int timer_fd = -1;
  uv_poll_t timer{};
  std::priority_queue<Due, std::vector<Due>, std::greater<>> waiting;  // links whose request is not due yet
  std::vector<std::unique_ptr<Link>> links;
  size_t open = 0;  // links not closed yet
  uint64_t requests = 0, errors = 0, corrupted = 0;
  std::vector<double> latency_us;
};

void schedule(Link* link);

void close_link(Link* link, bool failed) {
  if (link->closing) return;
  link->closing = true;
  if (failed) ++link->run->errors;
  uv_close(reinterpret_cast<uv_handle_t*>(&link->tcp), [](uv_handle_t* h) {
    Rate* run = static_cast<Link*>(h->data)->run;
    if (--run->open == 0) uv_close(reinterpret_cast<uv_handle_t*>(&run->timer), nullptr);
  });
}

void arm(Rate* run) {
  itimerspec spec{};
  if (!run->waiting.empty()) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(run->waiting.top().when.time_since_epoch()).count();
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = std::max<long>(ns % 1'000'000'000, 1);  // zero would disarm it
  }
  timerfd_settime(run->timer_fd, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void send(Link* link) {
  uint64_t sequence = static_cast<uint64_t>((link->due - link->run->begin) / link->run->interval);
  std::memcpy(link->request.data(), &sequence, std::min<size_t>(sizeof(sequence), link->request.size()));
  link->received = 0;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(link->request.data()), static_cast<unsigned>(link->request.size()));
  if (uv_write(&link->write, reinterpret_cast<uv_stream_t*>(&link->tcp), &buf, 1, [](uv_write_t* w, int status) {
        if (status < 0) close_link(static_cast<Link*>(w->handle->data), true);
      }) != 0) {
    close_link(link, true);
  }
}

// The link's next request: sent now if due (or overdue: its answer came late), else queued.
void schedule(Link* link) {
  Rate* run = link->run;
  if (link->due >= run->end) {
    close_link(link, false);
    return;
  }
  if (link->due <= Clock::now()) {
    send(link);
    return;
  }
  bool earliest = run->waiting.empty() || link->due < run->waiting.top().when;
  run->waiting.push({link->due, link});
  if (earliest) arm(run);
}

void on_timer(uv_poll_t* handle, int, int) {
  auto* run = static_cast<Rate*>(handle->data);
  uint64_t expirations = 0;
  if (::read(run->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN) return;
  auto now = Clock::now();
  while (!run->waiting.empty() && run->waiting.top().when <= now) {
    Link* link = run->waiting.top().link;
    run->waiting.pop();
    if (!link->closing) send(link);
  }
  arm(run);
}

void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
  auto* link = static_cast<Link*>(stream->data);
  Rate* run = link->run;
  if (n > 0) {
    auto now = Clock::now();
    size_t got = static_cast<size_t>(n);
    bool intact = link->received + got <= link->request.size() &&
                  std::memcmp(buf->base, link->request.data() + link->received, got) == 0;
    std::free(buf->base);
    if (!intact) {
      ++run->corrupted;
      close_link(link, true);
      return;
    }
    link->received += got;
    if (link->received < link->request.size()) return;
    // Answered: latency from when the request was due, not when it went out.
    run->latency_us.push_back(std::chrono::duration<double, std::micro>(now - link->due).count());
    ++run->requests;
    run->last_answer = now;
    link->due += run->interval;
    schedule(link);
    return;
  }
  std::free(buf->base);
  if (n < 0) close_link(link, true);
}

}  // namespace

int run_rate(const sockaddr_in& target, unsigned connections, double rate, double seconds, size_t bytes) {
  raise_fd_limit();
  prctl(PR_SET_TIMERSLACK, 1UL);  // wake when a request is due, not up to 50 µs later
  if (connections == 0 || rate <= 0 || seconds <= 0 || bytes == 0) return 2;
  Rate run;
  run.loop = uv_default_loop();
  run.target = target;
  auto spacing = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  run.interval = spacing * connections;
  run.begin = Clock::now() + std::chrono::milliseconds(200);  // time to connect
  run.end = run.begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  run.latency_us.reserve(static_cast<size_t>(rate * seconds) + 1);
  run.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (run.timer_fd < 0) return 1;
  uv_poll_init(run.loop, &run.timer, run.timer_fd);
  run.timer.data = &run;
  uv_poll_start(&run.timer, UV_READABLE, on_timer);
  for (unsigned i = 0; i < connections; ++i) {
    auto link = std::make_unique<Link>();
    link->run = &run;
    link->index = i;
    link->due = run.begin + spacing * i;  // staggered: the rate is even, not in bursts
    link->request.resize(bytes);
    for (size_t b = 0; b < bytes; ++b) link->request[b] = pattern(i, b);
    uv_tcp_init(run.loop, &link->tcp);
    link->tcp.data = link.get();
    link->connect.data = link.get();
    ++run.open;
    int rc = uv_tcp_connect(&link->connect, &link->tcp, reinterpret_cast<const sockaddr*>(&target),
                            [](uv_connect_t* req, int status) {
                              auto* l = static_cast<Link*>(req->data);
                              if (status < 0) {
                                close_link(l, true);
                                return;
                              }
                              uv_tcp_nodelay(&l->tcp, 1);
                              uv_read_start(reinterpret_cast<uv_stream_t*>(&l->tcp), alloc_cb, on_read);
                              schedule(l);
                            });
    if (rc != 0) close_link(link.get(), true);
    run.links.push_back(std::move(link));
  }
  uv_run(run.loop, UV_RUN_DEFAULT);
  ::close(run.timer_fd);
  double elapsed = std::chrono::duration<double>(run.last_answer - run.begin).count();
  std::printf("{\"requests\": %llu, \"errors\": %llu, \"corrupted\": %llu, \"seconds\": %.3f, \"rate\": %.1f, "
              "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f}\n",
              static_cast<unsigned long long>(run.requests), static_cast<unsigned long long>(run.errors),
              static_cast<unsigned long long>(run.corrupted), elapsed,
              elapsed > 0 ? static_cast<double>(run.requests) / elapsed : 0.0, percentile(run.latency_us, 0.5),
              percentile(run.latency_us, 0.9), percentile(run.latency_us, 0.99), percentile(run.latency_us, 0.999));
  std::fflush(stdout);
  return run.errors == 0 && run.corrupted == 0 ? 0 : 1;
}

}  // namespace loadgen
