#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_text.h"  // dump_config: what the loader reads back

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

// What a reload does: `running` with the keys a reload may change (Reload::live) taken
// from `loaded`, and the paths of other keys that differ (they wait for a restart).
struct ReloadPlan {
  Config effective;
  std::vector<std::string> restart_keys;
};
ReloadPlan plan_reload(const Config& running, const Config& loaded);

}  // namespace hbone::config
