#pragma once

#include <nghttp2/nghttp2.h>

namespace hbone::h2 {

// The nghttp2 callback table shared by every session; user_data is the H2Connection.
const nghttp2_session_callbacks* session_callbacks();

}  // namespace hbone::h2
