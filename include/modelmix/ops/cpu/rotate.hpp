#pragma once
// CPU loops of ops::rotate and ops::rotate_planes (ops/rotate.hpp).
#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

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
