#include "admin/heap.h"

#include <nlohmann/json.hpp>

#if HBONE_HAVE_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

namespace hbone::admin {

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
  auto before = heap_stats();
  if (!before || before->free <= threshold) return 0;
#if HBONE_HAVE_TCMALLOC
  MallocExtension::instance()->ReleaseFreeMemory();
#endif
  auto after = heap_stats();
  return after && after->free < before->free ? before->free - after->free : 0;
}

void return_thread_cache() {
#if HBONE_HAVE_TCMALLOC
  MallocExtension::instance()->MarkThreadIdle();
#endif
}

HttpResult release_memory() {
  auto before = heap_stats();
  if (!before) return heap_profile();  // the same 501 and reason
  uint64_t released = release_free_heap(0);
  auto after = heap_stats().value_or(*before);
  nlohmann::json body = {{"released_bytes", released},
                         {"allocated_bytes", after.allocated},
                         {"free_bytes", after.free},
                         {"cached_bytes", after.cached}};
  return {200, "application/json", body.dump() + "\n"};
}

}  // namespace hbone::admin
