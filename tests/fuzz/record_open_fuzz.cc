// libFuzzer, differential: what a TLS 1.3 peer may send after the handshake (application
// data of any size, records of any inner type with padding, alerts, handshake messages split
// over records and packed into them, KeyUpdates real and forged, damaged headers and tags),
// opened by tls::RecordLayer and by BoringSSL's SSL_read on the same connection: the SSL
// whose keys RecordLayer took over still holds them, so it is a twin at the same sequence
// numbers. Both must accept the same records, yield the same bytes, and close or fail
// together; any difference aborts.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "tls/record_layer.h"
#include "tls/tls_context.h"
#include "tls_pair.h"

namespace {

using hbone::ByteBuffer;
using hbone::tls::RecordLayer;

enum class End { open, closed, failed };

const char* name(End end) { return end == End::open ? "open" : end == End::closed ? "closed" : "failed"; }

[[noreturn]] void differ(const char* what, End ours, End theirs, const std::string& why, const char* their_why) {
  std::fprintf(stderr, "record layers differ: %s (RecordLayer %s: %s; SSL_read %s: %s)\n", what, name(ours),
               why.c_str(), name(theirs), their_why);
  std::abort();
}

class Receivers {
 public:
  Receivers(RecordLayer ours, SSL* twin, SSL* sender) : ours(std::move(ours)), twin(twin), sender(sender) {}
  End ours_end = End::open, theirs_end = End::open;


  void deliver(std::span<const uint8_t> wire) {
    if (wire.empty()) return;
    if (ours_end == End::open) open_ours(wire);
    if (theirs_end == End::open) read_twin(wire);
    if (ours_got != theirs_got) {
      std::fprintf(stderr, "RecordLayer returned %zu bytes, SSL_read %zu\n", ours_got.size(), theirs_got.size());
      differ("application bytes", ours_end, theirs_end, ours.error(), theirs_error);
    }
    // RecordLayer refuses a bad header at once; BoringSSL first waits for the whole record.
    if (ours_end == End::failed && theirs_end == End::open) return;
    if (ours_end != theirs_end) differ("outcome", ours_end, theirs_end, ours.error(), theirs_error);
  }

  // After the last bytes: a header RecordLayer refused must fail SSL_read too once the
  // record it announces is complete.
  void settle() {
    if (ours_end != End::failed || theirs_end != End::open) return;
    std::vector<uint8_t> rest(5 + 16384 + 256, 0);
    read_twin(rest);
    if (theirs_end != End::failed) differ("outcome, the record complete", ours_end, theirs_end, ours.error(), theirs_error);
  }

 private:
  void open_ours(std::span<const uint8_t> wire) {
    ours_in.append(wire.data(), wire.size());
    while (true) {
      std::span<const uint8_t> plaintext;
      size_t consumed = 0;
      auto result = ours.open({ours_in.data(), ours_in.size()}, plaintext, consumed, ours_out);
      ours_got.insert(ours_got.end(), plaintext.begin(), plaintext.end());
      ours_in.consume(consumed);
      if (result == RecordLayer::Result::record) continue;
      if (result == RecordLayer::Result::closed) ours_end = End::closed;
      if (result == RecordLayer::Result::failed) ours_end = End::failed;
      break;
    }
    ours_out.consume(ours_out.size());
  }

  // Feeds `wire` to the twin as fast as the BIO pair takes it, reading as it goes.
  void read_twin(std::span<const uint8_t> wire) {
    uint8_t chunk[32768];
    for (size_t at = 0; theirs_end == End::open;) {
      int n = at < wire.size() ? BIO_write(SSL_get_wbio(sender), wire.data() + at, static_cast<int>(wire.size() - at)) : 0;
      if (n > 0) at += static_cast<size_t>(n);
      while ((n = SSL_read(twin, chunk, sizeof(chunk))) > 0) theirs_got.insert(theirs_got.end(), chunk, chunk + n);
      int error = SSL_get_error(twin, n);
      if (error == SSL_ERROR_ZERO_RETURN) theirs_end = End::closed;
      else if (error != SSL_ERROR_WANT_READ) theirs_end = End::failed;
      if (theirs_end == End::failed) ERR_error_string_n(ERR_get_error(), theirs_error, sizeof(theirs_error));
      ERR_clear_error();
      while (BIO_read(SSL_get_rbio(sender), chunk, sizeof(chunk)) > 0) {}
      if (at == wire.size()) break;
    }
  }

  RecordLayer ours;
  SSL* twin;     // the receiving SSL, read with SSL_read
  SSL* sender;   // its peer: what the twin writes back is read and dropped
  ByteBuffer ours_in;
  ByteBuffer ours_out;  // our replies (KeyUpdates, alerts): dropped
  std::vector<uint8_t> ours_got, theirs_got;
  char theirs_error[256] = "";
};

std::vector<uint8_t> handshake_message(uint8_t type, std::span<const uint8_t> body) {
  std::vector<uint8_t> message = {type, 0, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  message.insert(message.end(), body.begin(), body.end());
  return message;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  hbone::test::FuzzInput in(data, size);
  uint8_t setup = in.u8();
  bool server_receives = setup & 1;
  // A sender that rekeys after 1-16 records, or at the default limit.
  uint64_t records_per_key = (setup & 2) ? 1 + ((setup >> 2) & 15) : hbone::tls::TlsContext::kRecordsPerKey;
  auto pair = hbone::test::handshake_pair();
  if (!pair.client) std::abort();
  SSL* twin = server_receives ? pair.server.get() : pair.client.get();
  SSL* sender_ssl = server_receives ? pair.client.get() : pair.server.get();
  std::string why;
  auto sender = RecordLayer::take_over(sender_ssl, why, records_per_key);
  auto ours = RecordLayer::take_over(twin, why, hbone::tls::TlsContext::kRecordsPerKey);
  if (!sender || !ours) std::abort();
  Receivers receivers(std::move(*ours), twin, sender_ssl);

  ByteBuffer wire;
  std::vector<uint8_t> content;
  while (!in.empty() && receivers.ours_end == End::open) {
    switch (in.u8() % 8) {
      case 0: {  // application data, as a real stack sends it (rekeying on its limit)
        content.assign(in.u16() % 40000, in.u8());
        sender->seal(content.data(), content.size(), wire);
        break;
      }
      case 1: {  // one record of any inner type, content and padding
        uint8_t type = in.u8();
        auto bytes = in.bytes(in.u16() % 17000);
        sender->seal_inner(type, bytes, in.u16() % 17000, wire);
        break;
      }
      case 2: {  // an alert
        const uint8_t alert[] = {in.u8(), in.u8()};
        sender->seal_inner(21, alert, in.u8() % 4, wire);
        break;
      }
      case 3: {  // handshake messages (KeyUpdate, NewSessionTicket, others) split over records
        uint8_t kind = in.u8();
        uint8_t type = kind % 3 == 0 ? 24 : kind % 3 == 1 ? 4 : in.u8();
        auto message = handshake_message(type, in.bytes(in.u16() % 20000));
        for (size_t at = 0; at < message.size();) {
          size_t piece = 1 + in.u16() % 16384;
          piece = std::min(piece, message.size() - at);
          sender->seal_inner(22, {message.data() + at, piece}, 0, wire);
          at += piece;
        }
        break;
      }
      case 4: {  // several messages packed into one record
        std::vector<uint8_t> packed;
        for (size_t n = 1 + in.u8() % 8; n > 0; --n) {
          auto message = handshake_message(in.u8() % 2 ? 4 : 24, in.bytes(in.u8() % 40));
          packed.insert(packed.end(), message.begin(), message.end());
        }
        sender->seal_inner(22, packed, 0, wire);
        break;
      }
      case 5: {  // damage a pending record: header, body or tag
        if (wire.size() > 0) {
          size_t at = in.u16() % wire.size();
          uint8_t mask = in.u8();
          wire.data()[at] ^= mask ? mask : 1;
        }
        break;
      }
      case 6: {  // bytes no stack would send
        auto raw = in.bytes(in.u8());
        wire.append(raw.data(), raw.size());
        break;
      }
      case 7: {  // deliver part of what is pending: records may arrive cut anywhere
        size_t n = wire.size() ? in.u16() % (wire.size() + 1) : 0;
        receivers.deliver({wire.data(), n});
        wire.consume(n);
        break;
      }
    }
  }
  receivers.deliver({wire.data(), wire.size()});
  receivers.settle();
  return 0;
}
