#pragma once
// A process-wide allocator setting for training programs. A training step allocates and frees
// the same large activation and gradient buffers every step; glibc hands blocks above its mmap
// threshold back to the kernel and faults them in again on the next step (measured: a U-Net
// step at width 16, 128², batch 4 on Zen 5 took 1.4× longer without this). Keeping freed
// memory in the heap costs no peak memory (the next step needs the same blocks). The library
// never calls this itself; programs call it once at start (modelmix-cardiac and the step
// benchmarks do).
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace modelmix {

// Returns false where the C library has no such setting (or refused it).
inline bool keep_freed_host_memory() {
#if defined(__GLIBC__)
  return mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
#else
  return false;
#endif
}

}  // namespace modelmix
