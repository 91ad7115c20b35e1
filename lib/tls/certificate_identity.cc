#include "tls/certificate_identity.h"

#include <openssl/x509v3.h>

#include <memory>
#include <string_view>

#include "util/escape.h"

namespace hbone::tls {
namespace {

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

}  // namespace

std::optional<identity::SpiffeId> spiffe_id_of(X509* cert, std::string& error) {
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::optional<identity::SpiffeId> found;
  int count = names ? static_cast<int>(sk_GENERAL_NAME_num(names.get())) : 0;
  for (int i = 0; i < count; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
    std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                          static_cast<size_t>(ASN1_STRING_length(uri)));
    if (!text.starts_with("spiffe://")) continue;
    if (found) {
      error = "certificate has more than one SPIFFE URI SAN";
      return std::nullopt;
    }
    found = identity::SpiffeId::parse(text);
    if (!found) {
      error = "certificate has a malformed SPIFFE URI SAN \"" + util::escaped(text) + "\"";
      return std::nullopt;
    }
  }
  if (!found) error = "certificate has no SPIFFE URI SAN";
  return found;
}

}  // namespace hbone::tls
