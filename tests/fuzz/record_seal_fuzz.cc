// libFuzzer, differential: tls::RecordLayer::seal() with writes of any size and a key that
// changes every 1-16 records, read back by BoringSSL's SSL_read on the other end; the other
// end asks for KeyUpdates too (SSL_key_update), which our side must answer before its next
// record. SSL_read must return exactly the bytes sealed, and never fail.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "tls/record_layer.h"
#include "tls_pair.h"

namespace {

using hbone::ByteBuffer;
using hbone::tls::RecordLayer;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "record layer seal: %s %s\n", what, detail.c_str());
  std::abort();
}

void write_all(BIO* bio, ByteBuffer& bytes) {
  while (!bytes.empty()) {
    int n = BIO_write(bio, bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) fail("BIO full", "");
    bytes.consume(static_cast<size_t>(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  hbone::test::FuzzInput in(data, size);
  uint8_t setup = in.u8();
  bool ours_is_server = setup & 1;
  uint64_t records_per_key = 1 + ((setup >> 1) & 15);
  auto pair = hbone::test::handshake_pair();
  if (!pair.client) std::abort();
  SSL* mine = ours_is_server ? pair.server.get() : pair.client.get();
  SSL* peer = ours_is_server ? pair.client.get() : pair.server.get();
  std::string why;
  auto ours = RecordLayer::take_over(mine, why, records_per_key);
  if (!ours) fail("take_over", why);

  ByteBuffer out, in_buffer;
  std::vector<uint8_t> sent, received, pattern;
  uint64_t records = 0;
  uint8_t chunk[32768];
  while (!in.empty()) {
    if (in.u8() % 4 == 0) {
      // The peer asks for a KeyUpdate; it goes out with one byte of data, which we read.
      if (!SSL_key_update(peer, SSL_KEY_UPDATE_REQUESTED)) fail("SSL_key_update", "");
      const uint8_t byte = in.u8();
      if (SSL_write(peer, &byte, 1) != 1) fail("SSL_write", "");
      int n;
      while ((n = BIO_read(SSL_get_rbio(mine), chunk, sizeof(chunk))) > 0) in_buffer.append(chunk, static_cast<size_t>(n));
      std::vector<uint8_t> got;
      while (true) {
        std::span<const uint8_t> plaintext;
        size_t consumed = 0;
        auto result = ours->open({in_buffer.data(), in_buffer.size()}, plaintext, consumed, out);
        got.insert(got.end(), plaintext.begin(), plaintext.end());
        in_buffer.consume(consumed);
        if (result == RecordLayer::Result::need_more) break;
        if (result != RecordLayer::Result::record) fail("open", ours->error());
      }
      if (got != std::vector<uint8_t>{byte}) fail("open", "returned other bytes");
    } else {
      pattern.assign(in.u16() % 70000, 0);
      for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 31 + records);
      if (!ours->seal(pattern.data(), pattern.size(), out)) fail("seal", ours->error());
      sent.insert(sent.end(), pattern.begin(), pattern.end());
      records += (pattern.size() + 16383) / 16384;
    }
    write_all(SSL_get_wbio(mine), out);
    int n;
    while ((n = SSL_read(peer, chunk, sizeof(chunk))) > 0) received.insert(received.end(), chunk, chunk + n);
    if (SSL_get_error(peer, n) != SSL_ERROR_WANT_READ) {
      char error[256];
      ERR_error_string_n(ERR_get_error(), error, sizeof(error));
      fail("SSL_read failed:", error);
    }
    if (received != sent) fail("SSL_read returned other bytes", "");
  }
  // Every records_per_key records of ours, one KeyUpdate (more when the peer asked).
  if (records > 0 && ours->key_updates_sent() < (records - 1) / records_per_key) {
    fail("too few KeyUpdates:", std::to_string(ours->key_updates_sent()));
  }
  return 0;
}
