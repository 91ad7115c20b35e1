// hbone-rtt-relay: a TCP relay that adds a fixed round-trip time (and optionally caps the
// bandwidth) between two processes on one machine, which has no netem. Bytes read from
// either side are held for RTT/2 before they are written on, so anything that waits for
// an answer (HTTP/2 WINDOW_UPDATEs, TCP-level reads and acks end to end) sees the RTT.
//
//   hbone-rtt-relay LISTEN_PORT TARGET_PORT RTT_MS [MBIT_PER_S]
//
// Each direction is a delay line with its own token bucket (MBIT_PER_S, 0 = no cap). The
// line holds at most max(BDP * 2, 8 MiB) bytes; beyond that the relay stops reading, like a
// router's buffer. Timing uses libuv's millisecond timers: delays are accurate to ~1 ms.
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Options {
  sockaddr_in target{};
  uint64_t half_rtt_ns = 0;
  double bytes_per_ns = 0;  // 0: no cap
  size_t line_limit = 8u << 20;
};
Options options;

struct Pair;

// Read buffers are recycled: fresh memory costs a page fault per 4 KiB, and faults are
// expensive in this VM (with a malloc and free per read, the relay was CPU-bound at
// ~1 Gbit/s, most of it in page faults).
constexpr size_t kReadSize = 256 * 1024;
constexpr size_t kSmallRead = 16 * 1024;  // copied out, so a big buffer is not held for it
constexpr size_t kPoolMax = 64;

struct Buffer {
  std::unique_ptr<char[]> bytes;
  size_t capacity = 0;
};
std::vector<Buffer> pool;  // one loop thread

Buffer take(size_t capacity) {
  if (capacity == kReadSize && !pool.empty()) {
    Buffer b = std::move(pool.back());
    pool.pop_back();
    return b;
  }
  return {std::make_unique_for_overwrite<char[]>(capacity), capacity};
}

void give(Buffer b) {
  if (b.capacity == kReadSize && pool.size() < kPoolMax) pool.push_back(std::move(b));
}

struct Chunk {
  uint64_t due_ns;
  Buffer data;
  size_t size = 0;  // 0: the sender's FIN
};

// One direction: reads `from`, delays, writes `to`.
struct Line {
  Pair* pair = nullptr;
  uv_tcp_t* from = nullptr;
  uv_tcp_t* to = nullptr;
  std::deque<Chunk> queue;
  size_t queued = 0;  // bytes in the line, written or not yet acknowledged by libuv
  uint64_t next_free_ns = 0;  // the token bucket: when the link is free again
  uv_timer_t timer{};
  Buffer spare;  // what the next read goes into
  bool reading = false;
  bool eof_seen = false;
};

struct Pair {
  uv_tcp_t client{}, upstream{};
  Line up, down;  // client -> upstream, upstream -> client
  int open_handles = 0;
  bool closing = false;
};

void close_pair(Pair* p);

void release_handle(Pair* p) {
  if (--p->open_handles == 0) std::unique_ptr<Pair> owned(p);
}

void close_pair(Pair* p) {
  if (p->closing) return;
  p->closing = true;
  // A socket's data is its Pair, a timer's its Line.
  for (uv_tcp_t* t : {&p->client, &p->upstream}) {
    uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { release_handle(static_cast<Pair*>(h->data)); });
  }
  for (Line* line : {&p->up, &p->down}) {
    uv_close(reinterpret_cast<uv_handle_t*>(&line->timer),
             [](uv_handle_t* h) { release_handle(static_cast<Line*>(h->data)->pair); });
  }
}

// Both directions ended and everything was passed on: the pair is done.
void maybe_done(Pair* p) {
  if (p->up.eof_seen && p->down.eof_seen && p->up.queue.empty() && p->down.queue.empty() &&
      p->up.queued == 0 && p->down.queued == 0) {
    close_pair(p);
  }
}

Line* line_of(uv_stream_t* s) {
  auto* p = static_cast<Pair*>(s->data);
  return s == reinterpret_cast<uv_stream_t*>(&p->client) ? &p->up : &p->down;
}

void alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) {
  Line* line = line_of(reinterpret_cast<uv_stream_t*>(h));
  if (!line->spare.bytes) line->spare = take(kReadSize);
  buf->base = line->spare.bytes.get();
  buf->len = kReadSize;
}

void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
void pump(Line* line);

void update_reading(Line* line) {
  bool want = !line->eof_seen && line->queued < options.line_limit;
  if (want == line->reading || line->pair->closing) return;
  line->reading = want;
  auto* stream = reinterpret_cast<uv_stream_t*>(line->from);
  if (want) {
    uv_read_start(stream, alloc_cb, read_cb);
  } else {
    uv_read_stop(stream);
  }
}

void schedule(Line* line) {
  if (line->queue.empty() || line->pair->closing) return;
  uint64_t now = uv_hrtime();
  uint64_t due = line->queue.front().due_ns;
  uint64_t wait_ms = due > now ? (due - now + 999'999) / 1'000'000 : 0;
  uv_timer_start(&line->timer, [](uv_timer_t* t) { pump(static_cast<Line*>(t->data)); }, wait_ms, 0);
}

struct Write {
  uv_write_t req;
  Line* line;
  Buffer data;
  size_t size;
};

void pump(Line* line) {
  uint64_t now = uv_hrtime();
  while (!line->queue.empty() && line->queue.front().due_ns <= now && !line->pair->closing) {
    Chunk chunk = std::move(line->queue.front());
    line->queue.pop_front();
    if (chunk.size == 0) {
      auto req = std::make_unique<uv_shutdown_t>();
      req->data = line;
      uv_shutdown(req.release(), reinterpret_cast<uv_stream_t*>(line->to), [](uv_shutdown_t* r, int) {
        std::unique_ptr<uv_shutdown_t> owned(r);
        maybe_done(static_cast<Line*>(r->data)->pair);
      });
      continue;
    }
    auto w = std::make_unique<Write>();
    w->line = line;
    w->data = std::move(chunk.data);
    w->size = chunk.size;
    uv_buf_t b = uv_buf_init(w->data.bytes.get(), static_cast<unsigned>(w->size));
    Write* raw = w.release();  // owned by the write callback
    uv_write(&raw->req, reinterpret_cast<uv_stream_t*>(line->to), &b, 1, [](uv_write_t* req, int status) {
      std::unique_ptr<Write> done(reinterpret_cast<Write*>(req));
      Line* l = done->line;
      if (status < 0) {
        close_pair(l->pair);
        return;
      }
      l->queued -= done->size;
      give(std::move(done->data));
      update_reading(l);
      maybe_done(l->pair);
    });
  }
  schedule(line);
}

void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* p = static_cast<Pair*>(s->data);
  Line* line = line_of(s);
  if (n == 0) return;
  uint64_t now = uv_hrtime();
  Chunk chunk;
  if (n > 0) {
    chunk.size = static_cast<size_t>(n);
    if (chunk.size >= kSmallRead) {
      chunk.data = std::move(line->spare);
    } else {
      chunk.data = take(chunk.size);
      std::memcpy(chunk.data.bytes.get(), buf->base, chunk.size);
    }
    line->queued += chunk.size;
  } else if (n == UV_EOF) {
    line->eof_seen = true;
  } else {
    close_pair(p);
    return;
  }
  // Serialization at the capped rate, then propagation: due = link free + size/rate + RTT/2.
  uint64_t start = std::max(now, line->next_free_ns);
  uint64_t transmit = options.bytes_per_ns > 0 ? static_cast<uint64_t>(static_cast<double>(n > 0 ? n : 0) / options.bytes_per_ns) : 0;
  line->next_free_ns = start + transmit;
  chunk.due_ns = line->next_free_ns + options.half_rtt_ns;
  bool was_empty = line->queue.empty();
  line->queue.push_back(std::move(chunk));
  if (was_empty) schedule(line);
  update_reading(line);
}

void init_line(Pair* p, Line& line, uv_tcp_t* from, uv_tcp_t* to) {
  line.pair = p;
  line.from = from;
  line.to = to;
  uv_timer_init(from->loop, &line.timer);
  line.timer.data = &line;
}

void on_accept(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto owned = std::make_unique<Pair>();
  Pair* p = owned.release();  // freed when its four handles are closed
  p->open_handles = 4;
  uv_tcp_init(server->loop, &p->client);
  uv_tcp_init(server->loop, &p->upstream);
  p->client.data = p;
  p->upstream.data = p;
  init_line(p, p->up, &p->client, &p->upstream);
  init_line(p, p->down, &p->upstream, &p->client);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&p->client)) != 0) {
    close_pair(p);
    return;
  }
  uv_tcp_nodelay(&p->client, 1);
  auto req = std::make_unique<uv_connect_t>();
  req->data = p;
  uv_tcp_connect(req.release(), &p->upstream, reinterpret_cast<const sockaddr*>(&options.target),
                 [](uv_connect_t* r, int st) {
                   std::unique_ptr<uv_connect_t> done(r);
                   auto* pair = static_cast<Pair*>(r->data);
                   if (st < 0 || pair->closing) {
                     close_pair(pair);
                     return;
                   }
                   uv_tcp_nodelay(&pair->upstream, 1);
                   update_reading(&pair->up);
                   update_reading(&pair->down);
                 });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: hbone-rtt-relay LISTEN_PORT TARGET_PORT RTT_MS [MBIT_PER_S]\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an error result, not death
  int listen_port = std::atoi(argv[1]);
  uv_ip4_addr("127.0.0.1", std::atoi(argv[2]), &options.target);
  double rtt_ms = std::atof(argv[3]);
  double mbit = argc == 5 ? std::atof(argv[4]) : 0;
  options.half_rtt_ns = static_cast<uint64_t>(rtt_ms * 1e6 / 2);
  options.bytes_per_ns = mbit > 0 ? mbit * 1e6 / 8 / 1e9 : 0;
  double bdp = mbit > 0 ? mbit * 1e6 / 8 * rtt_ms / 1e3 : 0;
  options.line_limit = std::max<size_t>(static_cast<size_t>(bdp * 2), 8u << 20);
  if (mbit == 0) options.line_limit = std::max<size_t>(options.line_limit, 256u << 20);

  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", listen_port, &addr);
  if (uv_tcp_bind(&server, reinterpret_cast<sockaddr*>(&addr), 0) != 0 ||
      uv_listen(reinterpret_cast<uv_stream_t*>(&server), 512, on_accept) != 0) {
    std::fprintf(stderr, "hbone-rtt-relay: cannot listen on 127.0.0.1:%d\n", listen_port);
    return 1;
  }
  std::printf("ready: 127.0.0.1:%d -> 127.0.0.1:%s, RTT %.1f ms, %s\n", listen_port, argv[2], rtt_ms,
              mbit > 0 ? (std::to_string(static_cast<long>(mbit)) + " Mbit/s").c_str() : "no rate cap");
  std::fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
