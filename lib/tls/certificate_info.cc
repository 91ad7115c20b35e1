#include "tls/certificate_info.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <ctime>
#include <memory>

#include "tls/certificate_identity.h"
#include "tls/ssl_handles.h"
#include "tls/tls_context.h"

namespace hbone::tls {
namespace {

using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  // ASN1_TIME_diff against "now" works the same in BoringSSL and OpenSSL 3.
  int days = 0, seconds = 0;
  auto now = std::chrono::system_clock::now();
  if (ASN1_TIME_diff(&days, &seconds, nullptr, t) != 1) return now;
  return now + std::chrono::seconds(int64_t{days} * 86400 + seconds);
}

std::string serial_of(X509* cert) {
  BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return "";
  char* hex = BN_bn2hex(bn.get());
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  // One spelling for both TLS libraries: uppercase, an even number of digits (as openssl x509 -serial).
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (out.size() % 2) out.insert(out.begin(), '0');
  return out;
}

}  // namespace

std::string iso_time(std::chrono::system_clock::time_point t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  char text[32];
  std::tm utc{};
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&seconds, &utc));
  return text;
}

namespace {

// Every certificate `bio` holds, in order; empty when none.
std::vector<CertificateInfo> certificates_in(BIO* bio) {
  std::vector<CertificateInfo> out;
  while (X509Ptr cert{PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)}) {
    CertificateInfo& info = out.emplace_back();
    char subject[512] = {};
    X509_NAME_oneline(X509_get_subject_name(cert.get()), subject, sizeof(subject));
    info.subject = subject;
    std::string ignored;
    if (auto id = spiffe_id_of(cert.get(), ignored)) info.spiffe_id = id->to_string();
    info.serial = serial_of(cert.get());
    info.not_before = to_time_point(X509_get0_notBefore(cert.get()));
    info.not_after = to_time_point(X509_get0_notAfter(cert.get()));
  }
  last_ssl_error();  // the end of the input is reported as an error: clear it
  return out;
}

}  // namespace

std::vector<CertificateInfo> read_certificates(const std::string& pem_path) {
  BioPtr bio(BIO_new_file(pem_path.c_str(), "r"));
  if (!bio) throw TlsSetupError("cannot read \"" + pem_path + "\": " + last_ssl_error());
  std::vector<CertificateInfo> out = certificates_in(bio.get());
  if (out.empty()) throw TlsSetupError("no certificate in \"" + pem_path + "\"");
  return out;
}

std::vector<CertificateInfo> parse_certificates(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<CertificateInfo> out = bio ? certificates_in(bio.get()) : std::vector<CertificateInfo>{};
  if (out.empty()) throw TlsSetupError("no certificate in the PEM text");
  return out;
}

}  // namespace hbone::tls
