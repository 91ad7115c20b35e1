#include "admin/heap.h"

#include <nlohmann/json.hpp>

#if HBONE_HAVE_TCMALLOC
#include <gperftools/malloc_extension.h>
#elif HBONE_GLIBC_MALLOC
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#endif

namespace hbone::admin {

#if HBONE_GLIBC_MALLOC
namespace {

uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Hands glibc's free pages back (all arenas; `keep` bytes stay at the main heap's top) and
// returns how much RSS that gave back: glibc counts what it handed back as free still.
uint64_t trim(size_t keep) {
  uint64_t before = resident_bytes();
  malloc_trim(keep);
  uint64_t after = resident_bytes();
  return before > after ? before - after : 0;
}

}  // namespace
#endif

std::optional<HeapStats> heap_stats() {
#if HBONE_HAVE_TCMALLOC
  size_t allocated = 0, free = 0;
  MallocExtension* m = MallocExtension::instance();
  if (!m->GetNumericProperty("generic.current_allocated_bytes", &allocated) ||
      !m->GetNumericProperty("tcmalloc.pageheap_free_bytes", &free)) {
    return std::nullopt;
  }
  size_t cached = 0;
  for (const char* cache : {"tcmalloc.thread_cache_free_bytes", "tcmalloc.transfer_cache_free_bytes",
                            "tcmalloc.central_cache_free_bytes"}) {
    size_t bytes = 0;
    if (m->GetNumericProperty(cache, &bytes)) cached += bytes;
  }
  return HeapStats{allocated, free, cached};
#else
  return std::nullopt;
#endif
}

uint64_t release_free_heap(uint64_t threshold) {
#if HBONE_HAVE_TCMALLOC
  auto before = heap_stats();
  if (!before || before->free <= threshold) return 0;
  MallocExtension::instance()->ReleaseFreeMemory();
  auto after = heap_stats();
  return after && after->free < before->free ? before->free - after->free : 0;
#elif HBONE_GLIBC_MALLOC
  // glibc's free figure includes what was handed back already, and a trim walks every
  // arena: trim once `threshold` more bytes are free than at the lowest point since the
  // last trim (a burst ended), not every time.
  static uint64_t low = UINT64_MAX;  // the daemon's loop is the only caller
  uint64_t free_now = mallinfo2().fordblks;
  low = std::min(low, free_now);
  if (free_now - low < threshold) return 0;
  low = free_now;
  return trim(threshold);
#else
  (void)threshold;
  return 0;
#endif
}

void return_thread_cache() {
#if HBONE_HAVE_TCMALLOC
  MallocExtension::instance()->MarkThreadIdle();
#endif
}

HttpResult release_memory() {
#if HBONE_GLIBC_MALLOC
  nlohmann::json released = {{"released_bytes", trim(0)}};  // no heap figures from glibc
  return {200, "application/json", released.dump() + "\n"};
#else
  auto before = heap_stats();
  if (!before) return heap_profile();  // the same 501 and reason
  uint64_t released = release_free_heap(0);
  auto after = heap_stats().value_or(*before);
  nlohmann::json body = {{"released_bytes", released},
                         {"allocated_bytes", after.allocated},
                         {"free_bytes", after.free},
                         {"cached_bytes", after.cached}};
  return {200, "application/json", body.dump() + "\n"};
#endif
}

}  // namespace hbone::admin
