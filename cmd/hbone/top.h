#pragma once

#include <chrono>
#include <string>

namespace hbone::cmd {

// `hbone top`: a terminal view of a running hbone, refreshed from its admin endpoint's
// /debug/tunnels: throughput each way, tunnels by rate, windows and flow-control stalls.
// With `once`, prints one frame (no screen control) and returns. Returns an exit code.
int run_top(const std::string& admin, std::chrono::milliseconds interval, bool once);

}  // namespace hbone::cmd
