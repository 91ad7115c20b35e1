#include "identity/spiffe_id.h"

#include <gtest/gtest.h>

using hbone::identity::SpiffeId;

TEST(SpiffeId, ParsesWorkloadIds) {
  auto id = SpiffeId::parse("spiffe://cluster.local/ns/default/sa/gateway");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->trust_domain, "cluster.local");
  EXPECT_EQ(id->path, "/ns/default/sa/gateway");
  EXPECT_EQ(id->to_string(), "spiffe://cluster.local/ns/default/sa/gateway");
}

TEST(SpiffeId, RejectsMalformed) {
  for (const char* bad :
       {"", "spiffe://", "spiffe://cluster.local", "spiffe://cluster.local/",
        "spiffe://cluster.local/ns//sa", "spiffe://cluster.local/ns/./x",
        "spiffe://cluster.local/ns/../x", "spiffe://Cluster.Local/ns/a", "http://cluster.local/ns/a",
        "spiffe://cluster.local:8080/ns/a", "spiffe://user@cluster.local/ns/a",
        "spiffe://cluster.local/ns/a?x=1", "spiffe://cluster.local/ns/a#f",
        "spiffe://cluster.local/ns/a/"}) {
    EXPECT_FALSE(SpiffeId::parse(bad)) << bad;
  }
}

TEST(SpiffeId, TrustDomain) {
  EXPECT_TRUE(SpiffeId::valid_trust_domain("cluster.local"));
  EXPECT_TRUE(SpiffeId::valid_trust_domain("a-b_c.d"));
  EXPECT_FALSE(SpiffeId::valid_trust_domain(""));
  EXPECT_FALSE(SpiffeId::valid_trust_domain("UPPER"));
  EXPECT_FALSE(SpiffeId::valid_trust_domain("a/b"));
}
