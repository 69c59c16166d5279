#pragma once
// CPU loop of ops::flip (ops/flip.hpp).
#include <algorithm>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// dst[o, l, i] (+)= src[o, L−1−l, i] for an [outer, L, inner] view: overwritten for the
// forward, accumulated (accumulate = true) for the backward.
template <class T>
void flip_into(const T* src, T* dst, index_t outer, index_t L, index_t inner, bool accumulate) {
#pragma omp parallel for schedule(static) if (outer * L * inner >= parallel_min_work)
  for (index_t o = 0; o < outer; ++o) {
    if (inner == 1) {  // the last axis: reverse each contiguous row
      const T* in = src + o * L;
      T* out = dst + o * L;
      for (index_t l = 0; l < L; ++l) out[l] = (accumulate ? out[l] : T(0)) + in[L - 1 - l];
      continue;
    }
    for (index_t l = 0; l < L; ++l) {
      const T* in = src + (o * L + (L - 1 - l)) * inner;
      T* out = dst + (o * L + l) * inner;
      if (accumulate)
        for (index_t i = 0; i < inner; ++i) out[i] += in[i];
      else
        std::copy(in, in + inner, out);
    }
  }
}

}  // namespace modelmix::ops::cpu
