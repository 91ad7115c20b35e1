#include "h2/window_sizer.h"

#include <gtest/gtest.h>

namespace hbone::h2 {
namespace {

using namespace std::chrono_literals;
using Clock = WindowSizer::Clock;

TEST(WindowSizer, GrowsWhenARoundTripFillsTheWindow) {
  WindowSizer sizer(256 << 10, 8 << 20);
  auto t = Clock::time_point{};
  ASSERT_TRUE(sizer.on_data(16 << 10, t));           // first data: probe
  EXPECT_FALSE(sizer.on_data(16 << 10, t + 1ms));    // one probe at a time
  sizer.on_data(100 << 10, t + 10ms);                // 132 KiB in the round trip: > half
  auto grown = sizer.on_ack(t + 20ms);
  ASSERT_TRUE(grown);
  EXPECT_EQ(*grown, 528u << 10);  // four times the sample
  EXPECT_NEAR(sizer.rtt_seconds(), 0.020, 1e-9);
}

TEST(WindowSizer, StaysWhenTheWindowWasNotTheLimit) {
  WindowSizer sizer(1 << 20, 8 << 20);
  auto t = Clock::time_point{};
  ASSERT_TRUE(sizer.on_data(100 << 10, t));
  EXPECT_FALSE(sizer.on_ack(t + 1ms));  // 100 KiB of a 1 MiB window: the sender was slower
  EXPECT_EQ(sizer.window(), 1u << 20);
}

TEST(WindowSizer, CappedAtMaxThenNoMoreProbes) {
  WindowSizer sizer(1 << 20, 3 << 20);
  auto t = Clock::time_point{};
  ASSERT_TRUE(sizer.on_data(4 << 20, t));  // a large sample: grows to four times it ...
  EXPECT_EQ(sizer.on_ack(t + 20ms), 3u << 20);  // ... capped at max
  EXPECT_FALSE(sizer.on_data(1 << 20, t + 30ms));  // at max: nothing left to learn
}

TEST(WindowSizer, StarvedSenderRaisesOnceUntilAcked) {
  WindowSizer sizer(256 << 10, 8 << 20);
  EXPECT_FALSE(sizer.on_credit(200 << 10, true));  // plenty of credit left
  EXPECT_FALSE(sizer.on_credit(0, false));          // starved, but by our own backlog
  EXPECT_EQ(sizer.on_credit(10 << 10, true), 512u << 10);  // starved while we kept up
  EXPECT_FALSE(sizer.on_credit(0, true));  // the raise is not acknowledged yet
  sizer.on_settings_acked();
  EXPECT_EQ(sizer.on_credit(0, true), 1u << 20);
  EXPECT_EQ(sizer.raises(), 2u);
}

TEST(WindowSizer, AckWithoutProbeIgnored) {
  WindowSizer sizer(256 << 10, 8 << 20);
  EXPECT_FALSE(sizer.on_ack(Clock::time_point{}));
}

}  // namespace
}  // namespace hbone::h2
