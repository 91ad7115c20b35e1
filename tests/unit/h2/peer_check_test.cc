#include "h2/peer_check.h"

#include <gtest/gtest.h>

namespace hbone::h2 {
namespace {

TEST(PeerCheck, ALPNThenOneSpiffeIdThenTheTrustDomain) {
  const auto ours = identity::SpiffeId::parse("spiffe://cluster.local/ns/default/sa/client");
  const auto foreign = identity::SpiffeId::parse("spiffe://other.domain/ns/default/sa/client");
  struct Case {
    const char* name;
    const char* alpn;
    std::optional<identity::SpiffeId> id;
    TlsResult result;
    const char* identity;
    const char* why;
  };
  const Case cases[] = {
      {"all good", "h2", ours, TlsResult::ok, "spiffe://cluster.local/ns/default/sa/client", ""},
      {"no ALPN", "", ours, TlsResult::alpn, "", "peer did not negotiate ALPN h2"},
      {"HTTP/1.1", "http/1.1", ours, TlsResult::alpn, "", "peer did not negotiate ALPN h2"},
      {"no SPIFFE id", "h2", std::nullopt, TlsResult::spiffe_id, "", "two URI SANs"},
      {"another trust domain", "h2", foreign, TlsResult::trust_domain,
       "spiffe://other.domain/ns/default/sa/client",
       "peer identity spiffe://other.domain/ns/default/sa/client is not in trust domain cluster.local"},
  };
  for (const Case& c : cases) {
    PeerCheck check = check_peer(c.alpn, c.id, "two URI SANs", "cluster.local");
    EXPECT_EQ(check.result, c.result) << c.name;
    EXPECT_EQ(check.identity, c.identity) << c.name;
    EXPECT_EQ(check.why, c.why) << c.name;
  }
}

TEST(PeerCheck, AFailedHandshakeIsNamedByWhatTlsReported) {
  EXPECT_EQ(handshake_result(tls::TlsSession::Failure::no_certificate), TlsResult::no_certificate);
  EXPECT_EQ(handshake_result(tls::TlsSession::Failure::bad_certificate), TlsResult::bad_certificate);
  EXPECT_EQ(handshake_result(tls::TlsSession::Failure::error), TlsResult::error);
  EXPECT_EQ(handshake_result(tls::TlsSession::Failure::none), TlsResult::error);
}

}  // namespace
}  // namespace hbone::h2
