#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hbone::identity {

// spiffe://<trust-domain>/<path>, per the SPIFFE ID spec: lowercase trust domain of
// [a-z0-9.-_], a path of non-empty segments of [A-Za-z0-9.-_] that are not "." or "..",
// no query, fragment, port or userinfo.
struct SpiffeId {
  std::string trust_domain;
  std::string path;  // starts with '/'

  static std::optional<SpiffeId> parse(std::string_view uri);
  static bool valid_trust_domain(std::string_view td);
  std::string to_string() const { return "spiffe://" + trust_domain + path; }
};

}  // namespace hbone::identity
