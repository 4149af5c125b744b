// glibc malloc settings for a training process (called first thing in main).
//
// Measured (docs/PERFORMANCE.md): with glibc's defaults a gantry rank
// page-faulted ~50,000 times a second on DCGAN-28, ~10-20 % of its time —
// every step's activations were returned to the kernel when freed (the heap
// top trimmed, or >128 KiB blocks unmapped) and faulted in again, zeroed, on
// the next step. (A Python process happens to avoid most of it: its small
// objects pin the heap top.) Keeping freed memory in the process removes
// that: blocks up to 32 MiB (glibc's maximum) come from the heap, and the heap
// is never trimmed. The cost is that the process keeps its peak heap size
// resident, as a caching allocator does.
//
// A user's own GLIBC_TUNABLES / MALLOC_*_ settings win: nothing is changed then.
#pragma once
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gantry {

inline void tune_host_allocator() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables && std::strstr(tunables, "glibc.malloc.")) || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
      std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // effectively never: a step's working set stays mapped
#endif
}

}  // namespace gantry
