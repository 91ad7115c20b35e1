#pragma once

#include <string>
#include <string_view>

namespace hbone::util {

// `value` safe to write into a log line: printable ASCII is kept, a backslash or a double
// quote (which would end a quoted field) escaped with a backslash, and every other byte
// (controls, NUL, DEL, non-ASCII) written as \xHH. What a peer chooses
// (its certificate's SAN, a CONNECT authority, a header) can then neither end a line nor
// forge one, nor hide itself from the reader.
std::string escaped(std::string_view value);

}  // namespace hbone::util
