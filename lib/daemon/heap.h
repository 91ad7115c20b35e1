#pragma once

#include <cstdint>
#include <optional>

namespace hbone::daemon {

struct HeapStats {
  uint64_t allocated = 0;  // bytes the program holds
  uint64_t free = 0;       // bytes tcmalloc holds free in its page heap (still in RSS)
};

// nullopt without tcmalloc (sanitizer builds).
std::optional<HeapStats> heap_stats();

// After a burst of tunnels tcmalloc keeps the freed pages, so RSS would stay at the peak:
// hands free pages back to the OS once more than `threshold` bytes are held. Returns the
// bytes released.
uint64_t release_free_heap(uint64_t threshold);

}  // namespace hbone::daemon
