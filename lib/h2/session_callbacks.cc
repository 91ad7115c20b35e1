#include "h2/session_callbacks.h"

#include <spdlog/spdlog.h>

#include <memory>
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

struct CallbacksFree {
  void operator()(nghttp2_session_callbacks* cb) const { nghttp2_session_callbacks_del(cb); }
};

}  // namespace

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

}  // namespace hbone::h2
