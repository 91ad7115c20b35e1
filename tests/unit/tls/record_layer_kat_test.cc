#include "tls/record_layer.h"

#if defined(OPENSSL_IS_BORINGSSL)

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "tls/tls_context.h"

namespace hbone::tls {
namespace {

// Known answers: RFC 8448 §3 (the client's and server's application records and close_notify
// under AES-128-GCM-SHA256), and for every suite the record after a KeyUpdate, computed by
// record_layer_vectors.py with Python's hmac and python3-cryptography, which share nothing
// with this code.

std::vector<uint8_t> hex(std::string_view text) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 1 < text.size(); i += 2) bytes.push_back(static_cast<uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  return bytes;
}

std::vector<uint8_t> payload() {  // RFC 8448's 50 bytes 00..31
  std::vector<uint8_t> bytes(0x32);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  return bytes;
}

std::vector<uint8_t> contents(const ByteBuffer& buffer) { return {buffer.data(), buffer.data() + buffer.size()}; }

const auto kClientSecret = hex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5");
const auto kServerSecret = hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
const auto kClientRecord = hex(
    "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b"
    "62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4");
// The server's second record under its application key (the first was a NewSessionTicket).
const auto kServerRecord = hex(
    "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8"
    "fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d");
const auto kClientCloseNotify = hex("1703030013c9872760655666b74d7ff1153efd6db6d0b0e3");

RecordLayer layer(uint16_t suite, bool server, RecordLayer::Traffic read, RecordLayer::Traffic write,
                  uint64_t records_per_key = TlsContext::kRecordsPerKey) {
  std::string why;
  auto made = RecordLayer::from_secrets(suite, server, read, write, why, records_per_key);
  EXPECT_TRUE(made) << why;
  return std::move(*made);
}

// Opens every record of `records`; returns the application bytes.
std::vector<uint8_t> open_all(RecordLayer& layer, std::vector<uint8_t> records, RecordLayer::Result expect_last) {
  std::vector<uint8_t> got;
  ByteBuffer replies;
  std::span<uint8_t> in(records);
  while (!in.empty()) {
    std::span<const uint8_t> plaintext;
    size_t consumed = 0;
    auto result = layer.open(in, plaintext, consumed, replies);
    got.insert(got.end(), plaintext.begin(), plaintext.end());
    in = in.subspan(consumed);
    if (result != RecordLayer::Result::record) {
      EXPECT_EQ(result, expect_last) << layer.error();
      EXPECT_TRUE(in.empty());
      break;
    }
  }
  EXPECT_EQ(replies.size(), 0u);
  return got;
}

TEST(RecordLayerKnownAnswers, Rfc8448ClientRecords) {
  auto client = layer(0x1301, false, {kServerSecret, 1}, {kClientSecret, 0});
  ByteBuffer out;
  auto bytes = payload();
  ASSERT_TRUE(client.seal(bytes.data(), bytes.size(), out));
  EXPECT_EQ(contents(out), kClientRecord);
  out.consume(out.size());
  const uint8_t close_notify[] = {1, 0};
  ASSERT_TRUE(client.seal_inner(21, close_notify, 0, out));
  EXPECT_EQ(contents(out), kClientCloseNotify);
  EXPECT_EQ(open_all(client, kServerRecord, RecordLayer::Result::record), payload());
}

TEST(RecordLayerKnownAnswers, Rfc8448ServerRecords) {
  auto server = layer(0x1301, true, {kClientSecret, 0}, {kServerSecret, 1});
  ByteBuffer out;
  auto bytes = payload();
  ASSERT_TRUE(server.seal(bytes.data(), bytes.size(), out));
  EXPECT_EQ(contents(out), kServerRecord);
  auto records = kClientRecord;
  records.insert(records.end(), kClientCloseNotify.begin(), kClientCloseNotify.end());
  EXPECT_EQ(open_all(server, records, RecordLayer::Result::closed), payload());
}

// Each suite: a record, the KeyUpdate our side sends once records_per_key (1) is reached, and a
// record under the next generation ("traffic upd", §7.2); the peer's layer reads them all.
struct SuiteVector {
  uint16_t suite;
  std::vector<uint8_t> secret;
  std::vector<uint8_t> records;
  friend void PrintTo(const SuiteVector& vector, std::ostream* os) { *os << "suite " << std::hex << vector.suite; }
};

class RecordLayerSuites : public ::testing::TestWithParam<SuiteVector> {};

TEST_P(RecordLayerSuites, KeyUpdateKnownAnswer) {
  const auto& vector = GetParam();
  std::vector<uint8_t> other(vector.secret.size(), 0x42);
  auto sender = layer(vector.suite, false, {other, 0}, {vector.secret, 0}, 1);
  ByteBuffer out;
  auto bytes = payload();
  ASSERT_TRUE(sender.seal(bytes.data(), bytes.size(), out));
  ASSERT_TRUE(sender.seal(bytes.data(), bytes.size(), out));
  EXPECT_EQ(contents(out), vector.records);
  EXPECT_EQ(sender.key_updates_sent(), 1u);

  auto receiver = layer(vector.suite, true, {vector.secret, 0}, {other, 0});
  auto got = open_all(receiver, vector.records, RecordLayer::Result::record);
  bytes.insert(bytes.end(), bytes.begin(), bytes.end());
  EXPECT_EQ(got, bytes);
  EXPECT_EQ(receiver.key_updates_received(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, RecordLayerSuites,
    ::testing::Values(
        SuiteVector{0x1301, kClientSecret,
                    hex("1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a2044"
                        "1e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e41703030016d08732885f9c2129f801d9251cb34e"
                        "0cd6a985b7e26e170303004308dab385c781c25090659835dd8d7c1d003c6ec2e6a058caf903c16580776a1b2ab6"
                        "3e00cdedf2c514502b8a361881663b197b2577d50a5707081e221deb8ed217c624")},
        SuiteVector{0x1302,
                    hex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30"),
                    hex("1703030043f00e613d85e2c335dea8a5115a04132f9e5ebd8c28baacd5500034518e09713a58197bad59bfc0758f"
                        "4d73b395c54785c66092c28b87fd6f3d25b256cf7dafffa8e76f1703030016c7c017d9ebc0ae11128c6c4dd48aea"
                        "f8539103091c311703030043f49fd09661185d1eb0674d2311aef17f3168495f09255c2a3bbf2b3c837c40310010"
                        "f0eb3703b7f1897337bfef063c9bdade149025ea109726fd9b0045ae434494e620")},
        SuiteVector{0x1303, hex("65666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f8081828384"),
                    hex("170303004383fb2fa1b02d35793399a272e2b5ce13452ddac71241bb794eb9be2e34d9c75ac72e03883e2323be1b"
                        "ab36d946a83f5e63d0ad24ae5b36284510bd8c42afcaea5f052417030300165ef83a2200754ec82ada9f52e39627"
                        "896a54dcf5591e17030300435f71d81ff80fdf74adca0da971ab5810bbd7e8bcacc9bd947627f750fe2944cafa83"
                        "a69a5aa2c476061bc12f422fdcef59d022210291ec859c080bd400eca0009c8364")}),
    [](const auto& info) {
      switch (info.param.suite) {
        case 0x1301: return std::string("Aes128GcmSha256");
        case 0x1302: return std::string("Aes256GcmSha384");
        default: return std::string("Chacha20Poly1305Sha256");
      }
    });

// §5.3: a sequence number must not wrap; the last one is refused, not reused as 0.
TEST(RecordLayerKnownAnswers, ReadSequenceDoesNotWrap) {
  constexpr uint64_t kLast = UINT64_MAX;
  auto sender = layer(0x1301, false, {kServerSecret, 0}, {kClientSecret, kLast - 1}, kLast);  // no rekey
  auto receiver = layer(0x1301, true, {kClientSecret, kLast - 1}, {kServerSecret, 0});
  ByteBuffer out;
  auto bytes = payload();
  ASSERT_TRUE(sender.seal(bytes.data(), bytes.size(), out));  // sequence 2^64 - 2: fine
  EXPECT_EQ(open_all(receiver, contents(out), RecordLayer::Result::record), payload());
  out.consume(out.size());
  ASSERT_TRUE(sender.seal(bytes.data(), bytes.size(), out));  // 2^64 - 1: the read side stops
  ByteBuffer replies;
  std::span<const uint8_t> plaintext;
  size_t consumed = 0;
  std::vector<uint8_t> record = contents(out);
  EXPECT_EQ(receiver.open(record, plaintext, consumed, replies), RecordLayer::Result::failed);
  EXPECT_EQ(receiver.error(), "read sequence number exhausted");
}

TEST(RecordLayerKnownAnswers, RefusesUnknownSuitesAndWrongSecretLengths) {
  std::string why;
  EXPECT_FALSE(RecordLayer::from_secrets(0x1304, false, {kClientSecret, 0}, {kServerSecret, 0}, why, TlsContext::kRecordsPerKey));
  EXPECT_EQ(why, "unknown TLS 1.3 cipher suite 0x1304");
  EXPECT_FALSE(RecordLayer::from_secrets(0x1302, false, {kClientSecret, 0}, {kServerSecret, 0}, why, TlsContext::kRecordsPerKey));
  EXPECT_EQ(why, "traffic secrets of the wrong length");
}

}  // namespace
}  // namespace hbone::tls

#endif  // OPENSSL_IS_BORINGSSL
