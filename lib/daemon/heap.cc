#include "daemon/heap.h"

#if HBONE_HAVE_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

namespace hbone::daemon {

std::optional<HeapStats> heap_stats() {
#if HBONE_HAVE_TCMALLOC
  size_t allocated = 0, free = 0;
  MallocExtension* m = MallocExtension::instance();
  if (!m->GetNumericProperty("generic.current_allocated_bytes", &allocated) ||
      !m->GetNumericProperty("tcmalloc.pageheap_free_bytes", &free)) {
    return std::nullopt;
  }
  return HeapStats{allocated, free};
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

}  // namespace hbone::daemon
