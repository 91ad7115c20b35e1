#include "util/byte_buffer.h"

#include <gtest/gtest.h>

namespace hbone {
namespace {

TEST(ByteBuffer, GrowsByDoublingButNotPastItsLimit) {
  ByteBuffer b;
  b.prepare(64 << 10, 1 << 20);
  b.commit(64 << 10);
  EXPECT_EQ(b.capacity(), 64u << 10);
  EXPECT_EQ(b.growth(64 << 10, 1 << 20), 64u << 10);  // doubled
  b.prepare(64 << 10, 1 << 20);
  b.commit(64 << 10);
  EXPECT_EQ(b.capacity(), 128u << 10);
  // 896 KiB more: exactly what it needs (1 MiB), not twice what it had (256 KiB) or more.
  EXPECT_EQ(b.growth(896 << 10, 1 << 20), 896u << 10);
  b.prepare(896 << 10, 1 << 20);
  b.commit(896 << 10);
  EXPECT_EQ(b.capacity(), 1u << 20);
  // At its limit it grows only by what a write needs beyond it.
  EXPECT_EQ(b.growth(16, 1 << 20), 16u);
  EXPECT_EQ(b.growth(16), 1u << 20);  // unlimited: doubles
}

TEST(ByteBuffer, ReusesConsumedRoomBeforeGrowing) {
  ByteBuffer b;
  b.prepare(1000);
  b.commit(1000);
  b.consume(600);
  EXPECT_EQ(b.growth(500), 0u);  // 400 held + 500 fit in 1000 after moving to the front
  auto space = b.prepare(500);
  EXPECT_EQ(b.capacity(), 1000u);
  EXPECT_GE(space.size(), 500u);
  EXPECT_EQ(b.growth(700), 1000u);  // 400 + 700 > 1000: doubles
}

}  // namespace
}  // namespace hbone
