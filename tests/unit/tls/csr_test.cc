// A key and CSR made in memory, signed by the dev CA (the openssl command), and a TLS context
// built from what came back: the identity asked for, and nothing else, is what it holds.

#include "tls/csr.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tls/tls_context.h"

namespace hbone::tls {
namespace {

constexpr const char* kCerts = "../../certs/dev/";
constexpr const char* kId = "spiffe://cluster.local/ns/shop/sa/cart";

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `csr` signed by the dev CA with its requested extensions; the certificate's PEM.
std::string sign(const std::string& csr, const std::filesystem::path& dir) {
  std::ofstream(dir / "req.pem") << csr;
  std::string command = "openssl x509 -req -in " + (dir / "req.pem").string() + " -CA " + kCerts +
                        std::string("ca.pem -CAkey ") + kCerts + "ca-key.pem -CAcreateserial -CAserial " +
                        (dir / "ca.srl").string() + " -copy_extensions copy -days 1 -out " +
                        (dir / "cert.pem").string() + " 2>/dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0);
  return read(dir / "cert.pem");
}

class Csr : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(kCerts) + "ca-key.pem")) GTEST_SKIP() << "no dev CA";
    dir_ = std::filesystem::temp_directory_path() / ("hbone-csr-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(Csr, AsksForExactlyItsIdentityAndTheIssuedCertificateIsUsable) {
  CertificateRequest request = make_certificate_request(kId);
  ASSERT_TRUE(request.key);
  EXPECT_TRUE(request.csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
  std::ofstream(dir_ / "req.pem") << request.csr;
  std::string text = "openssl req -in " + (dir_ / "req.pem").string() + " -noout -verify -text > " +
                     (dir_ / "req.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(text.c_str()), 0);  // its signature holds
  std::string described = read(dir_ / "req.txt");
  EXPECT_NE(described.find("URI:spiffe://cluster.local/ns/shop/sa/cart"), std::string::npos) << described;
  EXPECT_NE(described.find("prime256v1"), std::string::npos) << described;

  IssuedIdentity issued{request.key, sign(request.csr, dir_), read(std::string(kCerts) + "ca.pem")};
  TlsContext context(issued, TlsContext::Role::server);
  EXPECT_EQ(context.identity(), kId);
  // Another key with this certificate is refused.
  IssuedIdentity mismatched{make_certificate_request(kId).key, issued.chain, issued.roots};
  EXPECT_THROW(TlsContext(mismatched, TlsContext::Role::client), TlsSetupError);
  // No roots: nothing to trust a peer by.
  EXPECT_THROW(TlsContext(IssuedIdentity{issued.key, issued.chain, ""}, TlsContext::Role::client), TlsSetupError);
}

TEST_F(Csr, EachRequestHasAKeyOfItsOwn) {
  auto public_der = [](EVP_PKEY* key) {
    uint8_t* der = nullptr;
    int n = i2d_PUBKEY(key, &der);
    std::string out(reinterpret_cast<char*>(der), n > 0 ? static_cast<size_t>(n) : 0);
    OPENSSL_free(der);
    return out;
  };
  auto a = make_certificate_request(kId), b = make_certificate_request(kId);
  EXPECT_FALSE(public_der(a.key.get()).empty());
  EXPECT_NE(public_der(a.key.get()), public_der(b.key.get()));
}

}  // namespace
}  // namespace hbone::tls
