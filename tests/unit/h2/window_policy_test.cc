#include "h2/window_policy.h"

#include <gtest/gtest.h>

namespace hbone::h2 {
namespace {

using namespace std::chrono_literals;
using Clock = WindowPolicy::Clock;

constexpr uint32_t kStream = 4 << 20;
constexpr uint32_t kConnection = 16 << 20;
constexpr uint32_t kShared = 256 << 10;

WindowPolicy shared_policy() {
  return WindowPolicy({.stream_window = kStream, .connection_window = kConnection, .shared_stream_window = kShared, .auto_max = {}});
}

TEST(WindowPolicy, TwoStreamsShareOnlyWhenTheirDataArrivesWithinTheWindow) {
  struct Case {
    const char* name;
    int32_t second_stream;
    Clock::duration gap;
    bool shared;
  };
  const Case cases[] = {
      {"another stream at once", 3, 0ms, true},
      {"another stream 99 ms later", 3, 99ms, true},
      {"another stream 100 ms later", 3, 100ms, false},
      {"another stream a second later", 3, 1s, false},
      {"the same stream at once", 1, 0ms, false},
  };
  for (const Case& c : cases) {
    WindowPolicy policy = shared_policy();
    Clock::time_point t0 = Clock::now();
    WindowPolicy::Data first = policy.on_data(1, 1000, t0);
    EXPECT_FALSE(first.stream_cap) << c.name;
    WindowPolicy::Data second = policy.on_data(c.second_stream, 1000, t0 + c.gap);
    EXPECT_EQ(policy.shared(), c.shared) << c.name;
    EXPECT_EQ(second.stream_cap.has_value(), c.shared) << c.name;
    if (c.shared) {
      EXPECT_EQ(*second.stream_cap, static_cast<int32_t>(kShared)) << c.name;
      EXPECT_TRUE(second.want_rtt) << c.name << ": the cap's floor needs a round trip";
    }
  }
}

TEST(WindowPolicy, WithoutSharedWindowsNothingIsEverCapped) {
  WindowPolicy policy({.stream_window = kStream, .connection_window = kConnection, .shared_stream_window = 0, .auto_max = {}});
  Clock::time_point t0 = Clock::now();
  for (int32_t id : {1, 3, 5, 1, 3}) {
    WindowPolicy::Data d = policy.on_data(id, 1 << 20, t0);
    EXPECT_FALSE(d.stream_cap);
    EXPECT_FALSE(d.want_rtt);
    EXPECT_FALSE(d.probe);  // no auto window either
  }
  EXPECT_FALSE(policy.shared());
  EXPECT_FALSE(policy.on_sample(1.0, t0 + 2s));
  EXPECT_EQ(policy.full_window(), static_cast<int32_t>(kStream));
}

TEST(WindowPolicy, EveryStreamOfASharedConnectionIsCappedAndGetsItsWindowBackAfterTheHold) {
  WindowPolicy policy = shared_policy();
  Clock::time_point t0 = Clock::now();
  policy.on_data(1, 1000, t0);
  policy.on_data(3, 1000, t0 + 10ms);
  // Any stream's DATA while shared is capped, the first one's too.
  EXPECT_EQ(policy.on_data(1, 1000, t0 + 500ms).stream_cap, static_cast<int32_t>(kShared));
  EXPECT_FALSE(policy.on_data(1, 1000, t0 + 501ms).want_rtt);  // asked once, when sharing began
  // Within the hold (the last sharing was at +10 ms): nothing changes.
  EXPECT_FALSE(policy.on_sample(1.0, t0 + 900ms));
  EXPECT_TRUE(policy.shared());
  // A hold after the last sharing: every stream back to its full window.
  EXPECT_EQ(policy.on_sample(1.0, t0 + 10ms + WindowPolicy::kSharedHold), static_cast<int32_t>(kStream));
  EXPECT_FALSE(policy.shared());
  EXPECT_FALSE(policy.on_data(1, 1000, t0 + 2s).stream_cap);
}

TEST(WindowPolicy, TheCapNeverFallsBelowTwiceWhatArrivesInTheSmallestRoundTrip) {
  struct Case {
    const char* name;
    Clock::duration rtt;
    double bytes_per_second;
    int32_t cap;  // after one sample
  };
  const Case cases[] = {
      {"no round trip measured", 0ms, 100e6, static_cast<int32_t>(kShared)},
      {"a short path: the configured cap", 1ms, 10e6, static_cast<int32_t>(kShared)},
      {"10 ms at 100 MB/s: 2 MB in flight", 10ms, 100e6, 2'000'000},
      {"a long fat path: never above the full window", 100ms, 1e9, static_cast<int32_t>(kStream)},
  };
  for (const Case& c : cases) {
    WindowPolicy policy = shared_policy();
    if (c.rtt.count() > 0) {
      policy.on_rtt(c.rtt * 3);
      policy.on_rtt(c.rtt);  // the smallest counts
      policy.on_rtt(c.rtt * 2);
    }
    Clock::time_point t0 = Clock::now();
    policy.on_data(1, 0, t0);
    policy.on_data(3, static_cast<size_t>(c.bytes_per_second), t0 + 1ms);  // one second's worth
    policy.on_data(1, 0, t0 + 900ms);  // still sharing at the sample
    auto raised = policy.on_sample(1.0, t0 + 1s);
    EXPECT_EQ(policy.cap(), c.cap) << c.name;
    EXPECT_EQ(raised.has_value(), c.cap > static_cast<int32_t>(kShared)) << c.name;
    EXPECT_TRUE(policy.shared()) << c.name;
  }
}

TEST(WindowPolicy, TheConnectionWindowStaysFourStreamWindowsAbove) {
  WindowPolicy policy({.stream_window = kStream, .connection_window = kConnection, .shared_stream_window = 0, .auto_max = {}});
  EXPECT_EQ(policy.connection_window_for(1 << 20), static_cast<int32_t>(kConnection));
  EXPECT_EQ(policy.connection_window_for(8 << 20), 32 << 20);
  EXPECT_EQ(policy.connection_window_for(1u << 30), 0x7fffffff);  // the protocol's maximum
}

TEST(WindowPolicy, AnAutoWindowProbesAndItsGrowthIsTheFullWindow) {
  WindowPolicy policy({.stream_window = 64 << 10, .connection_window = kConnection, .shared_stream_window = 0, .auto_max = 16u << 20});
  ASSERT_NE(policy.sizer(), nullptr);
  Clock::time_point t0 = Clock::now();
  EXPECT_TRUE(policy.on_data(1, 16 << 10, t0).probe);   // the first DATA starts a probe
  EXPECT_FALSE(policy.on_data(1, 48 << 10, t0).probe);  // one at a time
  // The whole window arrived in the probe's round trip: the window was the limit.
  auto grown = policy.on_probe_ack(t0 + 10ms);
  ASSERT_TRUE(grown);
  EXPECT_EQ(*grown, 256u << 10);
  EXPECT_EQ(policy.full_window(), 256 << 10);
  EXPECT_FALSE(policy.on_credit(0, true)) << "one raise at a time, until the SETTINGS are acknowledged";
  policy.on_settings_acked();
  EXPECT_TRUE(policy.on_credit(0, true));
}

}  // namespace
}  // namespace hbone::h2
