#include "tunnel/admission.h"

#include <gtest/gtest.h>

#include <vector>

namespace hbone::tunnel {
namespace {

using Refusal = Admission::Refusal;

TEST(Admission, ProcessCapRefusesThenReturnsPlaces) {
  Admission admission(2, 0);
  Refusal why;
  auto a = admission.admit("x", why);
  auto b = admission.admit("y", why);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(admission.admit("z", why));
  EXPECT_EQ(why, Refusal::max_tunnels);
  EXPECT_EQ(admission.active(), 2u);
  a = Admission::Ticket();  // released by assignment
  EXPECT_EQ(admission.active(), 1u);
  EXPECT_TRUE(admission.admit("z", why));
  EXPECT_EQ(why, Refusal::none);
}

TEST(Admission, PerIdentityCapIsPerIdentity) {
  Admission admission(0, 2);
  Refusal why;
  std::vector<Admission::Ticket> held;
  held.push_back(admission.admit("spiffe://a", why));
  held.push_back(admission.admit("spiffe://a", why));
  EXPECT_FALSE(admission.admit("spiffe://a", why));
  EXPECT_EQ(why, Refusal::max_tunnels_per_identity);
  EXPECT_TRUE(admission.admit("spiffe://b", why));
  EXPECT_TRUE(admission.admit("", why));  // no identity: only the process cap applies
  held.pop_back();
  EXPECT_TRUE(admission.admit("spiffe://a", why));
}

TEST(Admission, MovedTicketReleasesOnce) {
  Admission admission(1, 1);
  Refusal why;
  {
    auto a = admission.admit("id", why);
    Admission::Ticket b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_TRUE(b);
    EXPECT_EQ(admission.active(), 1u);
  }
  EXPECT_EQ(admission.active(), 0u);
  EXPECT_TRUE(admission.admit("id", why));
}

}  // namespace
}  // namespace hbone::tunnel
