#include "config/units.h"

#include <gtest/gtest.h>

using namespace hbone::config;
using namespace std::chrono_literals;

TEST(ParseSize, AcceptsUnits) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
  EXPECT_EQ(parse_size("4MiB"), 4u << 20);
  EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_size("1048576"), 1u << 20);
}

TEST(ParseSize, RejectsBadForms) {
  for (const char* bad : {"", "MiB", "4 MiB", "4mib", "4MB", "4M", "-1", "1.5MiB", "4MiBx",
                          "99999999999999999999", "18014398509481984GiB"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  }
}

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(ParseDuration, RejectsBadForms) {
  for (const char* bad : {"", "10", "s", "10 s", "10S", "1.5s", "10sec", "-5s"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(FormatUnits, RoundTrips) {
  EXPECT_EQ(format_size(4u << 20), "4MiB");
  EXPECT_EQ(format_size(1536), "1536B");
  EXPECT_EQ(format_size(0), "0B");
  EXPECT_EQ(format_duration(10s), "10s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(120s), "2m");
}
