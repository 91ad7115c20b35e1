#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace hbone::tls {

// What /certs shows of one certificate and what the expiry gauge is computed from.
struct CertificateInfo {
  std::string subject;
  std::string spiffe_id;  // empty when it has none (a CA)
  std::string serial;     // hex
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};

// A certificate's time as /config_dump shows it: "2026-12-07T08:00:00Z".
std::string iso_time(std::chrono::system_clock::time_point t);

// Every certificate of a PEM file, in order (a chain: the leaf first). Throws
// TlsSetupError naming the file when it cannot be read or holds none.
std::vector<CertificateInfo> read_certificates(const std::string& pem_path);
// The same from PEM text held in memory (a chain a CA returned).
std::vector<CertificateInfo> parse_certificates(std::string_view pem);

}  // namespace hbone::tls
