#include "metrics/layer_stats.h"

#include <gtest/gtest.h>

#include "metrics/counters.h"

namespace hbone::metrics {
namespace {

struct AStats {
  Counter hits;
};
struct OtherStats {
  Counter hits;
};

TEST(LayerStats, EachTypeIsMadeOnceOnFirstUseAndSeenByTheScraperAfter) {
  LayerStats stats;
  EXPECT_EQ(stats.find<AStats>(), nullptr);  // nothing counted: nothing to export
  AStats& a = stats.get<AStats>();
  a.hits.add(2);
  EXPECT_EQ(&stats.get<AStats>(), &a);
  ASSERT_EQ(stats.find<AStats>(), &a);
  EXPECT_EQ(stats.find<AStats>()->hits.value(), 2u);
  EXPECT_EQ(stats.find<OtherStats>(), nullptr);
  EXPECT_EQ(stats.get<OtherStats>().hits.value(), 0u);  // a slot of its own
  // Another worker's are its own.
  LayerStats other;
  EXPECT_NE(&other.get<AStats>(), &a);
  EXPECT_EQ(other.find<AStats>()->hits.value(), 0u);
}

}  // namespace
}  // namespace hbone::metrics
