#include "grpc/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hbone::grpc {
namespace {

using namespace std::chrono_literals;

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(GrpcFraming, AMessageIsAZeroFlagAFourByteLengthAndItsBytes) {
  std::string out;
  frame_message("hi", out);
  frame_message("", out);
  EXPECT_EQ(out, std::string("\0\0\0\0\2hi\0\0\0\0\0", 12));
  std::string big(0x010203, 'x');
  out.clear();
  frame_message(big, out);
  EXPECT_EQ(out.substr(0, 5), std::string("\0\x00\x01\x02\x03", 5));
}

TEST(GrpcFraming, MessagesComeOutWholeHoweverTheDataIsCut) {
  std::vector<std::string> sent = {"first", "", std::string(70'000, 'y'), "last"};
  std::string stream;
  for (const auto& m : sent) frame_message(m, stream);
  for (size_t cut : {size_t{1}, size_t{3}, size_t{5}, size_t{7}, size_t{16384}, stream.size()}) {
    MessageReader reader(1 << 20);
    std::vector<std::string> got;
    for (size_t at = 0; at < stream.size(); at += cut) {
      auto part = bytes(stream).subspan(at, std::min(cut, stream.size() - at));
      ASSERT_EQ(reader.feed(part, [&](std::string&& m) { got.push_back(std::move(m)); }),
                MessageReader::Result::ok);
    }
    EXPECT_EQ(got, sent) << "cut every " << cut << " bytes";
    EXPECT_FALSE(reader.partial());
  }
}

TEST(GrpcFraming, ATruncatedMessageIsPartial) {
  std::string stream;
  frame_message("hello", stream);
  MessageReader reader(100);
  int messages = 0;
  reader.feed(bytes(stream.substr(0, 3)), [&](std::string&&) { ++messages; });
  EXPECT_TRUE(reader.partial());
  reader.feed(bytes(stream.substr(3, 4)), [&](std::string&&) { ++messages; });
  EXPECT_TRUE(reader.partial());
  EXPECT_EQ(messages, 0);
}

TEST(GrpcFraming, ACompressedOrOversizedMessageFailsTheCall) {
  MessageReader reader(10);
  int messages = 0;
  auto count = [&](std::string&&) { ++messages; };
  EXPECT_EQ(reader.feed(bytes(std::string("\1\0\0\0\1x", 6)), count), MessageReader::Result::compressed);
  MessageReader small(10);
  // Refused on its prefix alone: 4 GiB is never buffered.
  EXPECT_EQ(small.feed(bytes(std::string("\0\xff\xff\xff\xff", 5)), count), MessageReader::Result::too_large);
  std::string eleven;
  frame_message(std::string(11, 'z'), eleven);
  MessageReader again(10);
  EXPECT_EQ(again.feed(bytes(eleven), count), MessageReader::Result::too_large);
  EXPECT_EQ(messages, 0);
}

TEST(GrpcFraming, TheStatusComesFromTheTrailers) {
  Status ok = status_from_trailers("0", "");
  EXPECT_TRUE(ok.ok());
  Status unavailable = status_from_trailers("14", "istiod%20is%20restarting%3A%20retry");
  EXPECT_EQ(unavailable.code, Code::unavailable);
  EXPECT_EQ(unavailable.message, "istiod is restarting: retry");
  EXPECT_STREQ(name(unavailable.code), "UNAVAILABLE");
  EXPECT_EQ(status_from_trailers("16", "").code, Code::unauthenticated);
  // Absent, not a number or out of range: UNKNOWN, never OK.
  EXPECT_EQ(status_from_trailers(std::nullopt, "").code, Code::unknown);
  EXPECT_EQ(status_from_trailers("", "").code, Code::unknown);
  EXPECT_EQ(status_from_trailers("0x", "").code, Code::unknown);
  EXPECT_EQ(status_from_trailers("17", "").code, Code::unknown);
  EXPECT_EQ(status_from_trailers("-1", "").code, Code::unknown);
}

TEST(GrpcFraming, PercentDecodingKeepsWhatIsNotAnEscape) {
  EXPECT_EQ(percent_decode("a%2Fb%2fc"), "a/b/c");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(percent_decode("%E2%9C%93"), "\xE2\x9C\x93");
}

TEST(GrpcFraming, TheTimeoutHasAtMostEightDigitsAndNeverShortens) {
  EXPECT_EQ(timeout_header(500ns), "500n");
  EXPECT_EQ(timeout_header(5s), "5000000u");
  EXPECT_EQ(timeout_header(99999999ns), "99999999n");
  EXPECT_EQ(timeout_header(100000001ns), "100001u");  // rounded up
  EXPECT_EQ(timeout_header(std::chrono::hours(24 * 365)), "31536000S");
  EXPECT_EQ(timeout_header(-3s), "1n");  // already late: the least there is
}

}  // namespace
}  // namespace hbone::grpc
