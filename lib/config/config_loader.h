#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"

namespace hbone::config {

// Every problem found in one file, each "FILE:LINE: key: what is wrong".
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

struct LoadResult {
  Config config;
  std::vector<std::string> warnings;  // legal but risky settings, same format as errors
};

// Throws ConfigError listing every problem; never returns a half-valid config.
LoadResult load_config_file(const std::string& path);
LoadResult load_config_string(const std::string& yaml, const std::string& name);

// The effective config as YAML (for /config_dump and --check-config -v); key paths only.
std::string dump_config(const Config& config);

}  // namespace hbone::config
