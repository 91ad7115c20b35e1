#include "h2/session.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <vector>
#include <string_view>

#include "h2/h2_connection.h"

namespace hbone::h2 {
namespace {

H2Connection* conn(void* user_data) { return static_cast<H2Connection*>(user_data); }

ssize_t send_cb(nghttp2_session*, const uint8_t* data, size_t length, int, void* user_data) {
  return conn(user_data)->on_send(data, length);
}

int send_data_cb(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                 nghttp2_data_source*, void* user_data) {
  return conn(user_data)->on_send_data(frame, framehd, length);
}

int frame_recv_cb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return conn(user_data)->on_frame_recv(frame);
}

int frame_send_cb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  conn(user_data)->on_frame_sent(frame);
  return 0;
}

int data_chunk_cb(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                  void* user_data) {
  conn(user_data)->on_data_chunk(stream_id, data, len);
  return 0;
}

int stream_close_cb(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  conn(user_data)->on_stream_close(stream_id, error_code);
  return 0;
}

int begin_headers_cb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return conn(user_data)->on_begin_headers(frame);
}

int header_cb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  return conn(user_data)->on_header(
      frame, std::string_view(reinterpret_cast<const char*>(name), namelen),
      std::string_view(reinterpret_cast<const char*>(value), valuelen));
}

ssize_t read_length_cb(nghttp2_session*, uint8_t, int32_t stream_id, int32_t conn_window,
                       int32_t stream_window, uint32_t peer_max_frame, void* user_data) {
  return conn(user_data)->max_data_length(stream_id, conn_window, stream_window, peer_max_frame);
}

int invalid_frame_cb(nghttp2_session*, const nghttp2_frame* frame, int lib_error, void* user_data) {
  spdlog::debug("h2 {}: invalid frame type {} on stream {}: {}", conn(user_data)->peer_address(),
                frame->hd.type, frame->hd.stream_id, nghttp2_strerror(lib_error));
  return 0;
}

int error_cb(nghttp2_session*, int lib_error, const char* msg, size_t len, void* user_data) {
  spdlog::debug("h2 {}: {} ({})", conn(user_data)->peer_address(), std::string_view(msg, len),
                nghttp2_strerror(lib_error));
  return 0;
}

long data_read_cb(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* flags,
                  nghttp2_data_source* source, void*) {
  bool eof = false;
  long n = static_cast<StreamHandler*>(source->ptr)->next_data(length, &eof);
  if (n < 0) return NGHTTP2_ERR_DEFERRED;
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return n;
}

struct CallbacksFree {
  void operator()(nghttp2_session_callbacks* cb) const { nghttp2_session_callbacks_del(cb); }
};

struct OptionFree {
  void operator()(nghttp2_option* o) const { nghttp2_option_del(o); }
};


const nghttp2_session_callbacks* session_callbacks() {
  static const std::unique_ptr<nghttp2_session_callbacks, CallbacksFree> callbacks = [] {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cb, send_data_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, frame_recv_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, frame_send_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, data_chunk_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, stream_close_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, header_cb);
    nghttp2_session_callbacks_set_data_source_read_length_callback(cb, read_length_cb);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, invalid_frame_cb);
    nghttp2_session_callbacks_set_error_callback2(cb, error_cb);
    return std::unique_ptr<nghttp2_session_callbacks, CallbacksFree>(cb);
  }();
  return callbacks.get();
}

}  // namespace

void submit_settings(nghttp2_session* session, bool client, const config::Http2Config& h2) {
  std::vector<nghttp2_settings_entry> settings = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h2.stream_window},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, h2.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, h2.max_header_list_size},
  };
  if (client) settings.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, static_cast<int32_t>(h2.connection_window));
}

nghttp2_data_provider data_provider(StreamHandler* handler) {
  nghttp2_data_provider provider;
  provider.source.ptr = handler;
  provider.read_callback = data_read_cb;
  return provider;
}

Session new_session(bool server, void* user_data, int& rv) {
  nghttp2_option* raw_option = nullptr;
  nghttp2_option_new(&raw_option);
  std::unique_ptr<nghttp2_option, OptionFree> option(raw_option);
  // Window updates follow what was written to the local socket, not what was received:
  // that is the backpressure from a slow reader to the remote sender.
  nghttp2_option_set_no_auto_window_update(option.get(), 1);
  // RFC 9113 §5.1.2: no stream limit until the peer's SETTINGS say otherwise (nghttp2
  // would assume 100 and hold back streams the gateway is about to allow).
  nghttp2_option_set_peer_max_concurrent_streams(option.get(), 0xffffffffu);
  // nghttp2 keeps closed streams for the RFC 7540 priority tree, pruned against the local
  // SETTINGS_MAX_CONCURRENT_STREAMS, which it is not told (see FrameOutput): without this
  // the gateway kept every stream it ever closed (found by tests/e2e/test_soak.py).
  nghttp2_option_set_no_closed_streams(option.get(), 1);
  // Flood limits, spelled out rather than left to the library's defaults: a peer that
  // makes us queue more than this many SETTINGS/PING acks without reading them, sends more
  // than 8 CONTINUATION frames, or resets streams faster than 1000 at once then 33/s
  // (CVE-2023-44487, rapid reset) loses its connection.
  nghttp2_option_set_max_outbound_ack(option.get(), 1000);
  nghttp2_option_set_max_settings(option.get(), 32);
  nghttp2_option_set_max_continuations(option.get(), 8);
  nghttp2_option_set_stream_reset_rate_limit(option.get(), 1000, 33);
  nghttp2_session* raw = nullptr;
  rv = server ? nghttp2_session_server_new2(&raw, session_callbacks(), user_data, option.get())
              : nghttp2_session_client_new2(&raw, session_callbacks(), user_data, option.get());
  return Session(rv == 0 ? raw : nullptr);
}

}  // namespace hbone::h2
