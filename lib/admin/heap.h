#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "admin/profiles.h"

namespace hbone::admin {

struct HeapStats {
  uint64_t allocated = 0;  // bytes the program holds
  uint64_t free = 0;       // bytes tcmalloc holds free in its page heap (still in RSS)
  // freed small objects tcmalloc keeps for reuse in its thread, transfer and central caches
  // (in RSS too; only whole free spans reach the page heap)
  uint64_t cached = 0;
};

// nullopt without tcmalloc (glibc's allocator, sanitizer builds).
std::optional<HeapStats> heap_stats();

// Whether release_free_heap can hand anything back (not under the sanitizers).
constexpr bool kReleasesHeap = HBONE_HAVE_TCMALLOC || HBONE_GLIBC_MALLOC;

// After a burst of tunnels the allocator keeps the freed pages, so RSS would stay at the
// peak: hands free pages back to the OS once more than `threshold` bytes are held free
// (tcmalloc), or were freed since the last time (glibc). Returns the bytes released.
// Not thread-safe: one caller, every kReleasePeriod.
uint64_t release_free_heap(uint64_t threshold);
// tcmalloc's check is one figure: every 100 ms, so that tunnels that freed their buffers at
// the memory budget's edge (while others take the room they left) hold no more than ~100 ms
// of frees in RSS (at once a second, 1,000 stalled tunnels showed up to 12 MiB free in the
// page heap). glibc's walks every arena: once a second.
constexpr std::chrono::milliseconds kReleasePeriod{HBONE_HAVE_TCMALLOC ? 100 : 1000};

// Hands the calling thread's cache of freed objects back to tcmalloc's central lists, from
// which whole free spans reach the page heap (and release_free_heap). No-op without tcmalloc.
void return_thread_cache();

// POST /memory/release: releases all free heap at once (what a test or an operator
// measuring RSS wants); JSON with the bytes released and, with tcmalloc, the heap after.
// 501 in sanitizer builds.
HttpResult release_memory();

}  // namespace hbone::admin
