// Echo target: returns every byte, ends its side after the peer's FIN.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "common.h"

namespace loadgen {
namespace {

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

}  // namespace

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


}  // namespace loadgen
