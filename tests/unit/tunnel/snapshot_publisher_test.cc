#include "tunnel/snapshot_publisher.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "support/live_reader.h"

using hbone::test::live;

namespace hbone::tunnel {
namespace {

const std::string kCerts = "../../certs/dev/";  // the unit tests run in tests/unit

config::Config gateway(const std::string& identity) {
  config::Config c;
  live(c.tls.cert) = kCerts + "gateway.pem";
  live(c.tls.key) = kCerts + "gateway-key.pem";
  live(c.tls.ca) = kCerts + "ca.pem";
  c.gateway.emplace();
  live(c.gateway->allowed_identities) = {identity};
  return c;
}

// A publisher whose consumers record what they were handed, or refuse it while `refuse`.
struct Consumers {
  std::vector<std::shared_ptr<const PeerPolicy>> handed;
  bool refuse = false;
  SnapshotPublisher publisher;

  explicit Consumers(const config::Config& first)
      : publisher({first}, PeerPolicy::build(first), [this](const std::shared_ptr<const PeerPolicy>& next) {
          if (refuse) throw std::runtime_error("client.listeners[0].listen: cannot listen");
          handed.push_back(next);
        }) {}
  std::vector<std::string> in_force() const { return publisher.current()->allowed_identities; }
};

TEST(SnapshotPublisher, APublishedChangeIsBuiltFromAllInputsAndHandedOnce) {
  Consumers consumers(gateway("spiffe://td/ns/a/sa/first"));
  auto next = consumers.publisher.publish(
      [](SnapshotInputs& in) { live(in.config.gateway->allowed_identities) = {"spiffe://td/ns/a/sa/second"}; });
  ASSERT_EQ(consumers.handed.size(), 1u);
  EXPECT_EQ(consumers.handed[0], next);
  EXPECT_EQ(consumers.publisher.current(), next);
  EXPECT_EQ(consumers.in_force(), std::vector<std::string>{"spiffe://td/ns/a/sa/second"});
  EXPECT_NE(next->config_dump.find("spiffe://td/ns/a/sa/second"), std::string::npos);  // /config_dump follows
  EXPECT_NE(next->server_tls, nullptr);
  // A change of nothing builds again from the same inputs (the certificate files re-read).
  auto again = consumers.publisher.publish([](SnapshotInputs&) {});
  EXPECT_NE(again, next);
  EXPECT_EQ(consumers.in_force(), std::vector<std::string>{"spiffe://td/ns/a/sa/second"});
}

TEST(SnapshotPublisher, ASnapshotThatCannotBeBuiltChangesNothing) {
  Consumers consumers(gateway("spiffe://td/ns/a/sa/first"));
  auto first = consumers.publisher.current();
  EXPECT_ANY_THROW(consumers.publisher.publish([](SnapshotInputs& in) {
    live(in.config.gateway->allowed_identities) = {"spiffe://td/ns/a/sa/second"};
    live(in.config.tls.cert) = kCerts + "missing.pem";
  }));
  EXPECT_TRUE(consumers.handed.empty());
  EXPECT_EQ(consumers.publisher.current(), first);
  // Nor are the inputs changed: the next producer builds on the last good ones.
  EXPECT_EQ(live(consumers.publisher.inputs().config.tls.cert), kCerts + "gateway.pem");
  consumers.publisher.publish([](SnapshotInputs&) {});
  EXPECT_EQ(consumers.in_force(), std::vector<std::string>{"spiffe://td/ns/a/sa/first"});
}

TEST(SnapshotPublisher, ASnapshotTheConsumersRefuseChangesNothing) {
  Consumers consumers(gateway("spiffe://td/ns/a/sa/first"));
  auto first = consumers.publisher.current();
  consumers.refuse = true;
  EXPECT_THROW(consumers.publisher.publish([](SnapshotInputs& in) {
    live(in.config.gateway->allowed_identities) = {"spiffe://td/ns/a/sa/second"};
  }),
               std::runtime_error);
  EXPECT_EQ(consumers.publisher.current(), first);
  EXPECT_EQ(live(consumers.publisher.inputs().config.gateway->allowed_identities),
            std::vector<std::string>{"spiffe://td/ns/a/sa/first"});
}

}  // namespace
}  // namespace hbone::tunnel
