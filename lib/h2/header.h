#pragma once

#include <nghttp2/nghttp2.h>

#include <string_view>

namespace hbone::h2 {

// One header field of a request or response we submit. nghttp2 copies name and value, so
// the views need only live through the submit call.
struct Header {
  std::string_view name;
  std::string_view value;
};

inline nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  return {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
          const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace hbone::h2
