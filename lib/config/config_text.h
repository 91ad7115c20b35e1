#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/keys.h"

namespace hbone::config {

// The config as text, each a visitor of keys.h: YAML the loader reads back, each key's
// value for comparing two configs, the README's key table.

// The effective config as YAML (for /config_dump); key material stays in its files.
std::string dump_config(const Config& config);

// Each key's dotted path ("list[].key" inside lists), whether a reload applies it, and its
// value as text: what a reload compares.
struct FlatKey {
  std::string path;
  Reload reload;
  std::string value;
};
std::vector<FlatKey> flatten(const Config& config);

// Every key as a Markdown table (key, default, reload, meaning): `hbone --config-keys`.
std::string key_table();
// The paths of the keys a reload applies (Reload::live); a list's items as "list[].key".
std::vector<std::string> live_keys();

}  // namespace hbone::config
