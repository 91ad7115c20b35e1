// A response that is no gRPC response, or a stream the server reset: the status the call
// ends with, as grpc/doc/PROTOCOL-HTTP2.md maps them (Google's server never sends these, so
// the channel tests cannot reach them).

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include "grpc/call.h"

namespace hbone::grpc {
namespace {

TEST(StatusMap, HttpStatusesAsGrpcSays) {
  EXPECT_EQ(status_from_http(400).code, Code::internal);
  EXPECT_EQ(status_from_http(401).code, Code::unauthenticated);
  EXPECT_EQ(status_from_http(403).code, Code::permission_denied);
  EXPECT_EQ(status_from_http(404).code, Code::unimplemented);
  for (int unavailable : {429, 502, 503, 504}) EXPECT_EQ(status_from_http(unavailable).code, Code::unavailable);
  EXPECT_EQ(status_from_http(500).code, Code::unknown);
  EXPECT_EQ(status_from_http(404).message, "HTTP status 404 instead of a gRPC response");
}

TEST(StatusMap, ResetsAsGrpcSays) {
  EXPECT_EQ(status_from_reset(NGHTTP2_REFUSED_STREAM).code, Code::unavailable);
  EXPECT_EQ(status_from_reset(NGHTTP2_CANCEL).code, Code::cancelled);
  EXPECT_EQ(status_from_reset(NGHTTP2_ENHANCE_YOUR_CALM).code, Code::resource_exhausted);
  EXPECT_EQ(status_from_reset(NGHTTP2_INADEQUATE_SECURITY).code, Code::permission_denied);
  for (uint32_t internal : {NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_INTERNAL_ERROR,
                            NGHTTP2_FLOW_CONTROL_ERROR, NGHTTP2_FRAME_SIZE_ERROR}) {
    EXPECT_EQ(status_from_reset(internal).code, Code::internal);
  }
  EXPECT_NE(status_from_reset(NGHTTP2_CANCEL).message.find("stream reset by the server"), std::string::npos);
}

}  // namespace
}  // namespace hbone::grpc
