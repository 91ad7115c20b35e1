// libFuzzer: a message of the SPIFFE Workload API's X.509-SVID stream, as bytes off the
// agent's socket, through what hbone does with it (ca::read_svid_response: decode, DER
// certificates and PKCS#8 key, the leaf's identity checked; then the TLS contexts built from
// it). Whatever it holds, nothing crashes, and what is accepted is complete.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ca/svid_client.h"
#include "tls/tls_context.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hbone::tls::TlsContext;
  try {
    hbone::ca::SvidUpdate update = hbone::ca::read_svid_response(std::string(reinterpret_cast<const char*>(data), size));
    const auto& issued = *update.issued;
    if (!issued.key || issued.chain.empty() || issued.roots.empty() || update.leaf.spiffe_id.empty()) std::abort();
    TlsContext server(issued, TlsContext::Role::server);  // a key that is not the leaf's throws here
    TlsContext client(issued, TlsContext::Role::client);
  } catch (const hbone::tls::TlsSetupError&) {
  }
  return 0;
}
