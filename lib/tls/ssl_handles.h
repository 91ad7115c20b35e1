#pragma once

#include <openssl/bio.h>
#include <openssl/x509.h>

#include <memory>

namespace hbone::tls {

// Owners of the TLS library's objects, freed by the library's own function.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
inline void free_bio(BIO* b) { BIO_free(b); }  // BIO_free returns int
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, free_bio>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

}  // namespace hbone::tls
