#pragma once

#include <optional>
#include <string>

namespace hbone::util {

// A whole file's bytes; nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path);

}  // namespace hbone::util
