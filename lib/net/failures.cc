#include "net/failures.h"

namespace hbone::net {

const char* label(DialFailure failure) {
  switch (failure) {
    case DialFailure::none: return "none";
    case DialFailure::refused: return "refused";
    case DialFailure::unreachable: return "unreachable";
    case DialFailure::timeout: return "timeout";
    case DialFailure::resolve: return "resolve";
    case DialFailure::forbidden: return "forbidden";
    case DialFailure::descriptors: return "descriptors";
    case DialFailure::other: return "other";
    case DialFailure::count: break;
  }
  return "?";
}

const char* label(AcceptFailure failure) {
  switch (failure) {
    case AcceptFailure::emfile: return "emfile";
    case AcceptFailure::enfile: return "enfile";
    case AcceptFailure::enobufs: return "enobufs";
    case AcceptFailure::enomem: return "enomem";
    case AcceptFailure::other: return "other";
    case AcceptFailure::count: break;
  }
  return "?";
}

}  // namespace hbone::net
