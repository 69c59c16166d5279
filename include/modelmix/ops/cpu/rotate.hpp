#pragma once
// CPU loops of ops::rotate and ops::rotate_planes (ops/rotate.hpp), and the rotation's index
// map itself (rotation_source), the one definition the CPU map and the CUDA kernels
// (ops/cuda/geometry.cuh) both evaluate.
#include <math.h>

#include "modelmix/core/config.hpp"
#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// The source of output pixel (i, j) of an H×W plane rotated by θ, (c, s) = (cos θ, sin θ):
// the row-major index of the nearest input pixel (halves round up), or −1 when it lies
// outside the plane (formula in ops/rotate.hpp). I is index_t on the CPU, int in a kernel.
//
// The two sums are written as explicit fma: a compiler may not contract them its own way
// (g++ with -mfma contracts `cy + s·dj + c·di` differently from nvcc, and differently again
// without -mfma), so every build and device picks the same pixel even where the exact source
// lies within a rounding error of a half. Multiples of 90° (c, s ∈ {0, ±1}) are exact either way.
template <class I>
MODELMIX_HOST_DEVICE inline I rotation_source(I i, I j, I H, I W, double c, double s) {
  const double cy = double(H - 1) / 2, cx = double(W - 1) / 2;
  const double di = double(i) - cy, dj = double(j) - cx;
  const I si = static_cast<I>(::floor(::fma(c, di, ::fma(s, dj, cy)) + 0.5));
  const I sj = static_cast<I>(::floor(::fma(-s, di, ::fma(c, dj, cx)) + 0.5));
  return (si >= 0 && si < H && sj >= 0 && sj < W) ? si * W + sj : I(-1);
}

// y[p, q] = x[p, map[q]] (or fill where map[q] < 0) for `planes` planes of HW elements.
// Any element type (label maps too).
template <class T>
void gather_planes(const T* px, T* py, const index_t* pm, index_t planes, index_t HW, T fill) {
#pragma omp parallel for schedule(static) if (planes * HW >= parallel_min_work)
  for (index_t p = 0; p < planes; ++p)
    for (index_t q = 0; q < HW; ++q) py[p * HW + q] = pm[q] >= 0 ? px[p * HW + pm[q]] : fill;
}

// pd[p, map[q]] += pg[p, q] wherever map[q] ≥ 0: the transpose of gather_planes.
template <class T>
void gather_planes_backward(const T* pg, T* pd, const index_t* pm, index_t planes, index_t HW) {
#pragma omp parallel for schedule(static) if (planes * HW >= parallel_min_work)
  for (index_t p = 0; p < planes; ++p)
    for (index_t q = 0; q < HW; ++q)
      if (pm[q] >= 0) pd[p * HW + pm[q]] += pg[p * HW + q];
}

}  // namespace modelmix::ops::cpu
