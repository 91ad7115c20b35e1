#include "admin/heap.h"

#include <nlohmann/json.hpp>

#if HBONE_HAVE_TCMALLOC
#include <gperftools/malloc_extension.h>
#elif HBONE_GLIBC_MALLOC
#include <malloc.h>
#include <unistd.h>

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

// RSS beyond the heap in use (glibc's free pages still resident, and everything that is
// not heap: code, stacks).
uint64_t resident_spare() {
  struct mallinfo2 info = mallinfo2();
  uint64_t in_use = info.uordblks + info.hblkhd;
  uint64_t resident = resident_bytes();
  return resident > in_use ? resident - in_use : 0;
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
  // Only the page heap's figure (one lock, no walk of the threads' caches): this is asked
  // ten times a second.
  auto page_heap_free = [] {
    size_t free = 0;
    MallocExtension::instance()->GetNumericProperty("tcmalloc.pageheap_free_bytes", &free);
    return free;
  };
  size_t before = page_heap_free();
  if (before <= threshold) return 0;
  MallocExtension::instance()->ReleaseFreeMemory();
  size_t after = page_heap_free();
  return after < before ? before - after : 0;
#elif HBONE_GLIBC_MALLOC
  // glibc counts what it handed back as free still, so its free figure says nothing of RSS;
  // what does is the memory resident beyond the heap in use. A trim walks every arena:
  // trim once that has grown by `threshold` since the last trim measured it, however it
  // grew (a burst between two calls re-touches pages handed back before, and leaves the
  // free figure where it was).
  static uint64_t settled = UINT64_MAX;  // the daemon's loop is the only caller
  if (settled != UINT64_MAX && resident_spare() < settled + threshold) return 0;
  uint64_t released = trim(threshold);
  settled = resident_spare();
  return released;
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
