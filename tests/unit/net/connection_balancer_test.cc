#include "net/connection_balancer.h"

#include <gtest/gtest.h>

namespace hbone::net {
namespace {

TEST(ConnectionBalancer, PlacesOnTheLeastLoadedAndKeepsTies) {
  ConnectionBalancer balancer(3);
  EXPECT_EQ(balancer.place(1), 1u);  // all equal: the accepting worker keeps it
  EXPECT_EQ(balancer.place(1), 0u);  // worker 1 has one, 0 and 2 none: the first of them
  EXPECT_EQ(balancer.place(1), 2u);
  EXPECT_EQ(balancer.place(2), 2u);  // 1 each: a tie again
  EXPECT_EQ(balancer.count(2), 2);
  balancer.release(0);
  EXPECT_EQ(balancer.place(2), 0u);
  EXPECT_EQ(balancer.count(0), 1);
  EXPECT_EQ(balancer.count(1), 1);
}

}  // namespace
}  // namespace hbone::net
