// libFuzzer: the CONNECT authority parser (and the allowed_destinations entries parsed
// next to it). A parsed authority must print back to text that parses to the same value.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "address/destination_policy.h"
#include "address/host_port.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (auto parsed = hbone::address::parse_host_port(text, &why)) {
    std::string printed = parsed->to_string();
    auto again = hbone::address::parse_host_port(printed, &why);
    if (!again || again->to_string() != printed || again->port != parsed->port) std::abort();
  } else if (why.empty()) {
    std::abort();  // every refusal says why
  }
  try {
    auto policy = hbone::address::DestinationPolicy::parse({text});
    if (policy.allows_any()) std::abort();  // one entry parsed: something is restricted
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
