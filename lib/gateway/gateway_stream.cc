#include "gateway/gateway_stream.h"

#include "h2/h2_connection.h"

namespace hbone::gateway {

GatewayStream::GatewayStream(h2::H2Connection& conn, int32_t stream_id, std::string peer_address)
    : Tunnel(conn, Info{.role = "gateway", .source = std::move(peer_address)}) {
  set_stream_id(stream_id);
}

void GatewayStream::add_header(std::string_view name, std::string_view value, size_t max_bytes) {
  request_.header_bytes += name.size() + value.size() + 32;
  if (request_.header_bytes > max_bytes) return;  // answered with 431
  if (name == ":method") {
    request_.method = value;
  } else if (name == ":authority") {
    request_.authority = value;
  } else if (name == "forwarded") {
    request_.forwarded = value;
  } else if (name == "traceparent") {
    request_.traceparent = value;
  }
}

void GatewayStream::dial_done() { connection().loop().retire(std::move(dialer_)); }

void GatewayStream::on_stream_closed(uint32_t error_code) {
  pending_target_.reset();
  if (dialer_) connection().loop().retire(std::move(dialer_));  // cancels the connect
  Tunnel::on_stream_closed(error_code);
}

}  // namespace hbone::gateway
