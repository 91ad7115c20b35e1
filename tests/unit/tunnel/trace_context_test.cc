#include "tunnel/trace_context.h"

#include <gtest/gtest.h>

namespace hbone::tunnel {
namespace {

TEST(TraceContext, TraceIdOfAValidTraceparent) {
  EXPECT_EQ(trace_id_of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            "0af7651916cd43dd8448eb211c80319c");
  // A later version may carry more fields after a dash.
  EXPECT_EQ(trace_id_of("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-extra"),
            "0af7651916cd43dd8448eb211c80319c");
}

TEST(TraceContext, IgnoresWhatTheSpecSaysToIgnore) {
  for (const char* bad : {
           "",
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",     // no flags
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",  // version 00 with more
           "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  // uppercase
           "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // zero trace id
           "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // zero parent id
           "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // version ff
           "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",  // not hex
           "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // separator
           "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00x",  // later version, no dash
       }) {
    EXPECT_EQ(trace_id_of(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace hbone::tunnel
