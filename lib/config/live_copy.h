#pragma once

#include "config/config.h"

namespace hbone::config {

// Sets every live key (keys.h: Reload::live) of `to` to its value in `from`, member by
// member; restart keys stay. A role `to` lacks is not added (that needs a restart), one
// `from` lacks keeps `to`'s values. What a reload does with the file it read.
void copy_live_keys(const Config& from, Config& to);

}  // namespace hbone::config
