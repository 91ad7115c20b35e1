#include "tls/record_layer.h"

#if defined(OPENSSL_IS_BORINGSSL)

#include <gtest/gtest.h>
#include <openssl/bio.h>

#include <numeric>
#include <vector>

#include "tls/tls_context.h"
#include "tls_pair.h"

namespace hbone::tls {
namespace {

// One side is BoringSSL's own record layer, the other ours after the handshake: every
// record must be understood by the other implementation.
class RecordLayerTest : public ::testing::Test {
 protected:
  // `ours_is_server`: which end RecordLayer takes over. `tickets`: NewSessionTickets the
  // server sends after the handshake.
  void connect(bool ours_is_server, size_t tickets = 0, uint64_t records_per_key = TlsContext::kRecordsPerKey) {
    auto [client, server] = test::handshake_pair(tickets);
    ASSERT_TRUE(client && server);
    ours_ssl_ = ours_is_server ? std::move(server) : std::move(client);
    peer_ = ours_is_server ? std::move(client) : std::move(server);
    std::string why;
    ours_ = RecordLayer::take_over(ours_ssl_.get(), why, records_per_key);
    ASSERT_TRUE(ours_) << why;
  }

  // Ciphertext our side queued goes to the peer.
  void send_queued() {
    while (!out_.empty()) {
      int n = BIO_write(SSL_get_wbio(ours_ssl_.get()), out_.data(), static_cast<int>(out_.size()));
      ASSERT_GT(n, 0);
      out_.consume(static_cast<size_t>(n));
    }
  }

  // Everything the peer sent, opened by our side; application data appended to `got`.
  RecordLayer::Result receive(std::vector<uint8_t>& got) {
    uint8_t chunk[65536];
    int n;
    while ((n = BIO_read(SSL_get_rbio(ours_ssl_.get()), chunk, sizeof(chunk))) > 0) {
      in_.append(chunk, static_cast<size_t>(n));
    }
    while (true) {
      std::span<const uint8_t> plaintext;
      size_t consumed = 0;
      auto result = ours_->open({in_.data(), in_.size()}, plaintext, consumed, out_);
      got.insert(got.end(), plaintext.begin(), plaintext.end());
      in_.consume(consumed);
      if (result != RecordLayer::Result::record) return result;
    }
  }

  std::vector<uint8_t> peer_reads() {
    std::vector<uint8_t> got;
    uint8_t chunk[65536];
    int n;
    while ((n = SSL_read(peer_.get(), chunk, sizeof(chunk))) > 0) got.insert(got.end(), chunk, chunk + n);
    return got;
  }

  static std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> bytes(n);
    std::iota(bytes.begin(), bytes.end(), uint8_t{7});
    return bytes;
  }

  void expect_round_trip(size_t n) {
    auto sent = pattern(n);
    ours_->seal(sent.data(), sent.size(), out_);
    send_queued();
    EXPECT_EQ(peer_reads(), sent);
    ASSERT_EQ(SSL_write(peer_.get(), sent.data(), static_cast<int>(sent.size())), static_cast<int>(sent.size()));
    std::vector<uint8_t> got;
    EXPECT_EQ(receive(got), RecordLayer::Result::need_more);
    EXPECT_EQ(got, sent);
  }

  // The peer's side taken over too, to send records no stack would: its SSL sends nothing
  // from then on.
  void take_over_peer() {
    std::string why;
    peer_layer_ = RecordLayer::take_over(peer_.get(), why, TlsContext::kRecordsPerKey);
    ASSERT_TRUE(peer_layer_) << why;
  }
  // One crafted record from the peer, opened by our side.
  RecordLayer::Result crafted(uint8_t type, std::vector<uint8_t> content, size_t padding = 0) {
    EXPECT_TRUE(peer_layer_->seal_inner(type, content, padding, in_));
    std::vector<uint8_t> got;
    return receive(got);
  }

  bssl::UniquePtr<SSL> ours_ssl_;
  bssl::UniquePtr<SSL> peer_;
  std::optional<RecordLayer> ours_;
  std::optional<RecordLayer> peer_layer_;
  ByteBuffer in_;
  ByteBuffer out_;
};

TEST_F(RecordLayerTest, BothDirectionsAsClientAndServer) {
  for (bool server : {false, true}) {
    connect(server);
    expect_round_trip(1);
    expect_round_trip(100'000);  // several full records
  }
}

TEST_F(RecordLayerTest, ClientIgnoresTicketsSentAfterTheHandshake) {
  connect(false, 2);
  expect_round_trip(5000);
  // The tickets' record (sent with the first write) and the data record went out under the
  // application key: only the data reached us.
  EXPECT_EQ(SSL_get_write_sequence(peer_.get()), 2u);
}

TEST_F(RecordLayerTest, AnswersAKeyUpdateThatAsksForOne) {
  connect(true);
  ASSERT_TRUE(SSL_key_update(peer_.get(), SSL_KEY_UPDATE_REQUESTED));
  expect_round_trip(40'000);  // the peer's data comes under its new key; ours after our answer
  EXPECT_EQ(ours_->key_updates_received(), 1u);
  EXPECT_EQ(ours_->key_updates_sent(), 1u);
  expect_round_trip(10);
}

// Requests until our next application data are answered once (BoringSSL does the same): a
// peer cannot make us send a KeyUpdate per request.
TEST_F(RecordLayerTest, AnswersRequestsOnceUntilItSendsData) {
  connect(true);
  const uint8_t byte = 1;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(SSL_key_update(peer_.get(), SSL_KEY_UPDATE_REQUESTED));
    ASSERT_EQ(SSL_write(peer_.get(), &byte, 1), 1);
  }
  std::vector<uint8_t> got;
  EXPECT_EQ(receive(got), RecordLayer::Result::need_more);
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(ours_->key_updates_received(), 3u);
  EXPECT_EQ(ours_->key_updates_sent(), 1u);
  expect_round_trip(10);  // our data under the new key; the peer asks again
  ASSERT_TRUE(SSL_key_update(peer_.get(), SSL_KEY_UPDATE_REQUESTED));
  expect_round_trip(10);
  EXPECT_EQ(ours_->key_updates_sent(), 2u);
}

TEST_F(RecordLayerTest, UpdatesItsKeyAfterRecordsPerKey) {
  connect(false, 0, 3);
  expect_round_trip(10 * 16384);  // 10 records: three keys used up
  EXPECT_EQ(ours_->key_updates_sent(), 3u);
  expect_round_trip(16384);
}

TEST_F(RecordLayerTest, PartialRecordWaitsForTheRest) {
  connect(true);
  auto sent = pattern(3000);
  ASSERT_EQ(SSL_write(peer_.get(), sent.data(), 3000), 3000);
  uint8_t record[4096];
  int n = BIO_read(SSL_get_rbio(ours_ssl_.get()), record, sizeof(record));
  ASSERT_GT(n, 100);
  std::span<const uint8_t> plaintext;
  size_t consumed = 1;
  EXPECT_EQ(ours_->open({record, 100}, plaintext, consumed, out_), RecordLayer::Result::need_more);
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(ours_->open({record, static_cast<size_t>(n)}, plaintext, consumed, out_), RecordLayer::Result::record);
  EXPECT_EQ(consumed, static_cast<size_t>(n));
  EXPECT_EQ(std::vector<uint8_t>(plaintext.begin(), plaintext.end()), sent);
}

TEST_F(RecordLayerTest, TamperedRecordFailsAndSendsAnAlert) {
  connect(false);
  uint8_t byte = 'x';
  ASSERT_EQ(SSL_write(peer_.get(), &byte, 1), 1);
  uint8_t record[256];
  int n = BIO_read(SSL_get_rbio(ours_ssl_.get()), record, sizeof(record));
  ASSERT_GT(n, 6);
  record[6] ^= 1;
  std::span<const uint8_t> plaintext;
  size_t consumed = 0;
  EXPECT_EQ(ours_->open({record, static_cast<size_t>(n)}, plaintext, consumed, out_), RecordLayer::Result::failed);
  EXPECT_EQ(ours_->error(), "record authentication failed");
  send_queued();
  EXPECT_LE(SSL_read(peer_.get(), record, sizeof(record)), 0);  // the peer got our bad_record_mac
  EXPECT_EQ(SSL_get_error(peer_.get(), -1), SSL_ERROR_SSL);
}

TEST_F(RecordLayerTest, CloseNotifyCloses) {
  connect(true);
  SSL_shutdown(peer_.get());
  std::vector<uint8_t> got;
  EXPECT_EQ(receive(got), RecordLayer::Result::closed);
  EXPECT_EQ(ours_->error(), "peer sent close_notify");
}

constexpr uint8_t kAlertType = 21, kHandshakeType = 22, kData = 23;
using Result = RecordLayer::Result;

// RFC 8446 §5.4: TLSInnerPlaintext, type and padding included, is at most 2^14 + 1 bytes.
TEST_F(RecordLayerTest, InnerPlaintextLimitCountsTypeAndPadding) {
  connect(true);
  take_over_peer();
  EXPECT_EQ(crafted(kData, pattern(16384)), Result::need_more);  // 2^14 + its type: the most
  EXPECT_EQ(crafted(kData, pattern(16000), 385), Result::failed);
  EXPECT_EQ(ours_->error(), "record too long");
}

// BoringSSL's caps: 32 empty records in a row, 4 warning alerts in a row.
TEST_F(RecordLayerTest, EmptyRecordsAreCapped) {
  connect(false);
  take_over_peer();
  for (int i = 0; i < 32; ++i) ASSERT_EQ(crafted(kData, {}), Result::need_more) << i;
  EXPECT_EQ(crafted(kData, pattern(1)), Result::need_more);  // data starts the count again
  for (int i = 0; i < 32; ++i) ASSERT_EQ(crafted(kData, {}), Result::need_more) << i;
  EXPECT_EQ(crafted(kData, {}), Result::failed);
  EXPECT_EQ(ours_->error(), "too many empty records");

  // An empty record of another type counts the same (BoringSSL reads them so).
  connect(false);
  take_over_peer();
  for (int i = 0; i < 32; ++i) ASSERT_EQ(crafted(i % 2 ? kHandshakeType : kData, {}), Result::need_more) << i;
  EXPECT_EQ(crafted(kHandshakeType, {}), Result::failed);
  EXPECT_EQ(ours_->error(), "too many empty records");
}

TEST_F(RecordLayerTest, AlertsByLevel) {
  connect(true);
  take_over_peer();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(crafted(kAlertType, {1, SSL_AD_USER_CANCELLED}), Result::need_more);
  EXPECT_EQ(crafted(kAlertType, {1, SSL_AD_USER_CANCELLED}), Result::failed);
  EXPECT_EQ(ours_->error(), "too many warning alerts");

  connect(true);
  take_over_peer();
  EXPECT_EQ(crafted(kAlertType, {2, SSL_AD_USER_CANCELLED}), Result::failed);  // fatal: it ends
  EXPECT_EQ(ours_->error(), "peer sent alert: user canceled");

  connect(true);
  take_over_peer();
  EXPECT_EQ(crafted(kAlertType, {3, SSL_AD_CLOSE_NOTIFY}), Result::failed);
  EXPECT_EQ(ours_->error(), "alert level 3");

  connect(true);
  take_over_peer();
  EXPECT_EQ(crafted(kAlertType, {1, SSL_AD_CLOSE_NOTIFY}), Result::closed);

  connect(true);
  take_over_peer();
  EXPECT_EQ(crafted(kAlertType, {2, SSL_AD_CLOSE_NOTIFY}), Result::failed);  // as BoringSSL reads it
}

// BoringSSL's sizes: a server takes only a KeyUpdate (1 byte) after the handshake, refused
// from its header on; a client up to 16 KiB.
TEST_F(RecordLayerTest, PostHandshakeMessageSizes) {
  connect(true);
  take_over_peer();
  EXPECT_EQ(crafted(kHandshakeType, {24, 0, 0, 2}), Result::failed);
  EXPECT_EQ(ours_->error(), "post-handshake message too long");

  connect(false);
  take_over_peer();
  EXPECT_EQ(crafted(kHandshakeType, {4, 0, 0x40, 0x00}), Result::need_more);  // 16,384: waits for it
  EXPECT_EQ(crafted(kHandshakeType, {}), Result::need_more);
  connect(false);
  take_over_peer();
  EXPECT_EQ(crafted(kHandshakeType, {4, 0, 0x40, 0x01}), Result::failed);
}

// §4.6.1: each ticket is parsed whole, many to a record in one pass.
TEST_F(RecordLayerTest, TicketsAreValidated) {
  connect(false);
  take_over_peer();
  const std::vector<uint8_t> ticket = {4, 0, 0, 14,           // NewSessionTicket, 14 bytes:
                                       0, 0, 0, 60, 1, 2, 3, 4,  // lifetime, age_add
                                       0,                     // no nonce
                                       0, 1, 9,               // a one-byte ticket
                                       0, 0};                 // no extensions
  std::vector<uint8_t> many;
  for (int i = 0; i < 800; ++i) many.insert(many.end(), ticket.begin(), ticket.end());
  EXPECT_EQ(crafted(kHandshakeType, many), Result::need_more);
  EXPECT_EQ(crafted(kData, pattern(3)), Result::need_more);  // data still flows
  std::vector<uint8_t> bad = ticket;
  bad[14] = 2;  // says two ticket bytes: the extensions' length no longer fits
  EXPECT_EQ(crafted(kHandshakeType, bad), Result::failed);
  EXPECT_EQ(ours_->error(), "malformed NewSessionTicket");

  // Extensions as BoringSSL parses them: whole; early_data (42) once, 4 bytes; others ignored.
  auto with_extensions = [&](std::vector<uint8_t> extensions) {
    std::vector<uint8_t> message(ticket.begin(), ticket.end() - 2);
    message.push_back(static_cast<uint8_t>(extensions.size() >> 8));
    message.push_back(static_cast<uint8_t>(extensions.size()));
    message.insert(message.end(), extensions.begin(), extensions.end());
    message[3] = static_cast<uint8_t>(message.size() - 4);
    connect(false);
    take_over_peer();
    return crafted(kHandshakeType, message);
  };
  EXPECT_EQ(with_extensions({0, 42, 0, 4, 0, 0, 64, 0, 0x5a, 0x5a, 0, 1, 7, 0x5a, 0x5a, 0, 0}), Result::need_more);
  EXPECT_EQ(with_extensions({0, 42, 0, 4, 0, 0, 64, 0, 0, 42, 0, 4, 0, 0, 64, 0}), Result::failed);  // twice
  EXPECT_EQ(with_extensions({0, 42, 0, 2, 0, 0}), Result::failed);                                  // 2 bytes
  EXPECT_EQ(with_extensions({0, 9, 0, 5, 1, 2}), Result::failed);                                   // cut short
  EXPECT_EQ(with_extensions({0, 9, 0}), Result::failed);                                            // half a header
}

// After a fatal error nothing more is opened or sealed (no key is used again).
TEST_F(RecordLayerTest, FailureSticks) {
  connect(true);
  take_over_peer();
  EXPECT_EQ(crafted(kAlertType, {3, 0}), Result::failed);
  size_t alert = out_.size();
  EXPECT_GT(alert, 0u);  // our fatal alert
  EXPECT_EQ(crafted(kData, pattern(10)), Result::failed);  // a good record, still failed
  uint8_t byte = 1;
  EXPECT_FALSE(ours_->seal(&byte, 1, out_));
  EXPECT_EQ(out_.size(), alert);  // nothing sealed after the alert
}

}  // namespace
}  // namespace hbone::tls

#endif  // OPENSSL_IS_BORINGSSL
