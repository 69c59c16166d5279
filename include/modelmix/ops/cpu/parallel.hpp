#pragma once
// How the CPU backend spreads a loop over OpenMP threads.
#include <algorithm>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cpu {

#ifdef _OPENMP
inline int max_threads() { return omp_get_max_threads(); }
inline int thread_id() { return omp_get_thread_num(); }
#else
inline int max_threads() { return 1; }
inline int thread_id() { return 0; }
#endif

// Below this many elements (or touched values) a loop stays on one thread: the fork costs
// more than it saves.
inline constexpr index_t parallel_min_work = index_t(1) << 15;

// body(begin, end) on contiguous chunks of [0, n); chunks run in parallel when n is large.
// Chunks keep the inner loops plain pointer loops that the compiler vectorises.
template <class Body>
void parallel_chunks(index_t n, const Body& body) {
  constexpr index_t chunk = index_t(1) << 14;
  const index_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n >= parallel_min_work)
  for (index_t k = 0; k < chunks; ++k) body(k * chunk, std::min(n, (k + 1) * chunk));
}

// p[0, n) = 0, in parallel chunks (a large fill is memory-bound: both cores' bandwidth helps).
template <class T>
void fill_zero(T* p, index_t n) {
  parallel_chunks(n, [p](index_t begin, index_t end) { std::fill(p + begin, p + end, T(0)); });
}

}  // namespace modelmix::ops::cpu
