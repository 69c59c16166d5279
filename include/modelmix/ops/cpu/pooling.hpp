#pragma once
// CPU loops of ops::max_pool2d (ops/pooling.hpp).
#include <algorithm>
#include <cstdint>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// x [planes, H, W] → y [planes, Ho, Wo] and the argmax of each output (window position 0..3,
// ties to the first maximum in row-major window order).
template <class T>
void max_pool2d(const T* px, T* py, std::uint8_t* pa, index_t planes, index_t H, index_t W, index_t Ho, index_t Wo) {
#pragma omp parallel for schedule(static) if (planes * H * W >= parallel_min_work)
  for (index_t p = 0; p < planes; ++p) {
    const T* in = px + p * H * W;
    for (index_t i = 0; i < Ho; ++i) {
      const T* r0 = in + 2 * i * W;
      const T* r1 = r0 + W;
      T* out = py + (p * Ho + i) * Wo;
      std::uint8_t* arg = pa + (p * Ho + i) * Wo;
      for (index_t j = 0; j < Wo; ++j) {
        T best = r0[2 * j];
        std::uint8_t k = 0;
        if (r0[2 * j + 1] > best) { best = r0[2 * j + 1]; k = 1; }
        if (r1[2 * j] > best) { best = r1[2 * j]; k = 2; }
        if (r1[2 * j + 1] > best) { best = r1[2 * j + 1]; k = 3; }
        out[j] = best;
        arg[j] = k;
      }
    }
  }
}

// pd[argmax position of o] += pg[o]; with `assign`, pd is first zeroed plane by plane (in cache).
template <class T>
void max_pool2d_backward(const T* pg, const std::uint8_t* pa, T* pd, index_t planes, index_t H, index_t W, index_t Ho,
                         index_t Wo, bool assign = false) {
#pragma omp parallel for schedule(static) if (planes * H * W >= parallel_min_work)
  for (index_t p = 0; p < planes; ++p) {
    // Assigning: the pixels no window picked (and an odd last row/column) get 0.
    if (assign) std::fill(pd + p * H * W, pd + (p + 1) * H * W, T(0));
    for (index_t i = 0; i < Ho; ++i)
      for (index_t j = 0; j < Wo; ++j) {
        const index_t o = (p * Ho + i) * Wo + j;
        const index_t a = pa[o] >> 1, b = pa[o] & 1;
        pd[p * H * W + (2 * i + a) * W + 2 * j + b] += pg[o];
      }
  }
}

}  // namespace modelmix::ops::cpu
