#pragma once

#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace hbone::config {

// The rules between keys, once every key of `root` was read into `config`: a role to run,
// TLS files that exist, listeners that do not overlap, named policies and non-empty rule
// parts, routes that make sense together; risky settings as warnings.
void check_config(const YAML::Node& root, const Config& config, Diagnostics& diag);

}  // namespace hbone::config
