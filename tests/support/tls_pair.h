#pragma once

#include <openssl/ssl.h>

#if defined(OPENSSL_IS_BORINGSSL)

#include <cstddef>

namespace hbone::test {

// A client and a server that finished a TLS 1.3 handshake in memory, joined by a BIO pair
// (what one writes, the other reads): a self-signed P-256 certificate made once per
// process, nothing verified. Both are usable with SSL_read/SSL_write, or taken over by
// tls::RecordLayer.
struct TlsPair {
  bssl::UniquePtr<SSL> client;
  bssl::UniquePtr<SSL> server;
};

// `tickets`: NewSessionTickets the server sends after the handshake (queued for the
// client, not read). Empty pointers if the handshake failed.
TlsPair handshake_pair(size_t tickets = 0);

}  // namespace hbone::test

#endif  // OPENSSL_IS_BORINGSSL
