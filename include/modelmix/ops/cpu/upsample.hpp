#pragma once
// CPU loops of ops::upsample_nearest2x and ops::upsample_bilinear2x (ops/upsample.hpp).
#include <algorithm>
#include <vector>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// The two input taps and weights of output position o along an axis of input length L.
template <class T>
struct bilinear2x_taps {
  index_t lo, hi;
  T w_lo, w_hi;
};
template <class T>
bilinear2x_taps<T> bilinear2x_tap(index_t o, index_t L) {
  const index_t i = o / 2;
  if (o % 2 == 0) return {std::max<index_t>(i - 1, 0), i, T(0.25), T(0.75)};
  return {i, std::min<index_t>(i + 1, L - 1), T(0.75), T(0.25)};
}

// x [planes, H, W] → y [planes, 2H, 2W]
template <class T>
void upsample_nearest2x(const T* px, T* py, index_t planes, index_t H, index_t W) {
#pragma omp parallel for schedule(static) if (planes * 4 * H * W >= parallel_min_work)
  for (index_t p = 0; p < planes; ++p)
    for (index_t i = 0; i < H; ++i) {
      const T* in = px + (p * H + i) * W;
      T* o0 = py + (p * 2 * H + 2 * i) * 2 * W;
      T* o1 = o0 + 2 * W;
      for (index_t j = 0; j < W; ++j) o0[2 * j] = o0[2 * j + 1] = in[j];
      std::copy(o0, o0 + 2 * W, o1);
    }
}

// pd[i, j] += Σ_{a,b} pg[2i+a, 2j+b]
template <class T>
void upsample_nearest2x_backward(const T* pg, T* pd, index_t planes, index_t H, index_t W, bool assign = false) {
#pragma omp parallel for schedule(static) if (planes * 4 * H * W >= parallel_min_work)
  for (index_t p = 0; p < planes; ++p)
    for (index_t i = 0; i < H; ++i) {
      const T* g0 = pg + (p * 2 * H + 2 * i) * 2 * W;
      const T* g1 = g0 + 2 * W;
      T* d = pd + (p * H + i) * W;
      for (index_t j = 0; j < W; ++j)
        d[j] = (assign ? T(0) : d[j]) + ((g0[2 * j] + g0[2 * j + 1]) + (g1[2 * j] + g1[2 * j + 1]));
    }
}

// x [planes, H, W] → y [planes, 2H, 2W], separable: along H into a row buffer, then along W.
template <class T>
void upsample_bilinear2x(const T* px, T* py, index_t planes, index_t H, index_t W) {
#pragma omp parallel for schedule(static) if (planes * 4 * H * W >= parallel_min_work)
  for (index_t p = 0; p < planes; ++p) {
    std::vector<T> row(static_cast<std::size_t>(W));  // the H-interpolated input row
    const T* in = px + p * H * W;
    for (index_t oi = 0; oi < 2 * H; ++oi) {
      const auto t = bilinear2x_tap<T>(oi, H);
      const T *lo = in + t.lo * W, *hi = in + t.hi * W;
      for (index_t j = 0; j < W; ++j) row[j] = t.w_lo * lo[j] + t.w_hi * hi[j];
      T* out = py + (p * 2 * H + oi) * 2 * W;
      for (index_t j = 0; j < W; ++j) {
        const T left = row[std::max<index_t>(j - 1, 0)], right = row[std::min<index_t>(j + 1, W - 1)];
        out[2 * j] = T(0.25) * left + T(0.75) * row[j];
        out[2 * j + 1] = T(0.75) * row[j] + T(0.25) * right;
      }
    }
  }
}

// The transpose of upsample_bilinear2x, accumulated into pd (or written, with assign: a
// scatter, so the plane is zeroed first, while it is about to be in cache anyway).
template <class T>
void upsample_bilinear2x_backward(const T* pg, T* pd, index_t planes, index_t H, index_t W, bool assign = false) {
#pragma omp parallel for schedule(static) if (planes * 4 * H * W >= parallel_min_work)
  for (index_t p = 0; p < planes; ++p) {
    std::vector<T> row(static_cast<std::size_t>(W));
    T* d = pd + p * H * W;
    if (assign) std::fill(d, d + H * W, T(0));
    for (index_t oi = 0; oi < 2 * H; ++oi) {
      // Transpose of the W pass into `row`, then of the H pass into the two input rows.
      const T* go = pg + (p * 2 * H + oi) * 2 * W;
      std::fill(row.begin(), row.end(), T(0));
      for (index_t j = 0; j < W; ++j) {
        row[std::max<index_t>(j - 1, 0)] += T(0.25) * go[2 * j];
        row[j] += T(0.75) * (go[2 * j] + go[2 * j + 1]);
        row[std::min<index_t>(j + 1, W - 1)] += T(0.25) * go[2 * j + 1];
      }
      const auto t = bilinear2x_tap<T>(oi, H);
      T *lo = d + t.lo * W, *hi = d + t.hi * W;
      for (index_t j = 0; j < W; ++j) {
        lo[j] += t.w_lo * row[j];
        hi[j] += t.w_hi * row[j];
      }
    }
  }
}

}  // namespace modelmix::ops::cpu
