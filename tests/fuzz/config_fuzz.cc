// libFuzzer: the YAML config loader. Any input must end in a Config or a ConfigError
// (never another exception, a crash or a leak), and a loaded config must survive its own
// dump and reload unchanged (a reload of it finds no key changed).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  hbone::config::LoadResult loaded;
  try {
    loaded = hbone::config::load_config_string(text, "fuzz.yaml");
  } catch (const hbone::config::ConfigError&) {
    return 0;
  }
  std::string dump = hbone::config::dump_config(loaded.config);
  auto again = hbone::config::load_config_string(dump, "dump.yaml");  // must not throw
  if (hbone::config::dump_config(again.config) != dump) std::abort();
  if (!hbone::config::plan_reload(loaded.config, again.config).restart_keys.empty()) std::abort();
  return 0;
}
