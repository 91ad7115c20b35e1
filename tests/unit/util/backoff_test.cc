#include "util/backoff.h"

#include <gtest/gtest.h>

namespace hbone::util {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, GrowsByItsMultiplierWithinItsJitterUpToItsMaximum) {
  Backoff backoff({.initial = 1000ms, .multiplier = 1.6, .jitter = 0.2, .max = 10'000ms}, 7);
  double expected = 1000;
  for (int i = 0; i < 12; ++i) {
    auto delay = backoff.next().count();
    EXPECT_GE(delay, expected * 0.8 - 1) << "attempt " << i;
    EXPECT_LE(delay, expected * 1.2) << "attempt " << i;
    expected = std::min(expected * 1.6, 10'000.0);
  }
  backoff.reset();
  auto delay = backoff.next().count();
  EXPECT_GE(delay, 799);
  EXPECT_LE(delay, 1200);
}

TEST(Backoff, ClientsThatFailTogetherDoNotComeBackTogether) {
  Backoff a({}, 1), b({}, 2);
  a.next();
  b.next();
  EXPECT_NE(a.next(), b.next());
}

}  // namespace
}  // namespace hbone::util
