#pragma once
// Kernel bodies of ops/cuda/geometry.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. One thread per element, grid-stride
// over 32-bit counts; any 1D grid of blocks of any multiple of 32 threads; no shared memory.
#include <math.h>

#include "modelmix/ops/cpu/rotate.hpp"        // rotation_source: the index map, one definition
#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid
#include "modelmix/ops/cuda/geometry.hpp"
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

inline constexpr int geometry_threads = elementwise_threads;

// One thread per output element (p, i, j): its source from the shared index map, in double
// exactly as the CPU computes it. Neighbouring threads write neighbouring pixels.
struct rotate_kernel {
  const float* x;
  float* y;
  int n, H, W;  // n = planes·H·W
  double c, s;
  float fill;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* x = this->x;
    float* y = this->y;
    const int H = this->H, W = this->W, HW = H * W;
    const double c = this->c, s = this->s;
    const float fill = this->fill;
    for_each_index(ctx, n, [=](int e) {
      const int p = e / HW, q = e - p * HW, i = q / W, j = q - i * W;
      const int src = cpu::rotation_source(i, j, H, W, c, s);
      y[e] = src >= 0 ? x[p * HW + src] : fill;
    });
  }
};

// One thread per input element (p, r): src(q) = r means R(−θ)·(q − centre) lies in r's unit
// square, so q lies in that square turned by θ about f = centre + R(θ)·(r − centre): each
// coordinate of q within (|cos θ| + |sin θ|)/2 ≤ 0.71 of f's, i.e. q ∈ {⌊f⌋, ⌊f⌋ + 1} in each
// axis, with a margin of 0.29 pixel on either side — far beyond any rounding of f. Every
// candidate of that 2×2 window is checked with the exact map, so the window only needs to be
// large enough; walked row by row it visits q in increasing order, and the sum starts from
// d[p, r]: cpu::gather_planes_backward's additions, in its order.
struct rotate_backward_kernel {
  const float* g;
  float* d;
  int n, H, W;
  double c, s;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* g = this->g;
    float* d = this->d;
    const int H = this->H, W = this->W, HW = H * W;
    const double c = this->c, s = this->s;
    for_each_index(ctx, n, [=](int e) {
      const int p = e / HW, r = e - p * HW, ri = r / W, rj = r - ri * W;
      const double cy = double(H - 1) / 2, cx = double(W - 1) / 2;
      const double di = double(ri) - cy, dj = double(rj) - cx;
      const int fi = int(floor(cy + c * di - s * dj)), fj = int(floor(cx + s * di + c * dj));
      const int i0 = fi < 0 ? 0 : fi, i1 = fi + 1 < H - 1 ? fi + 1 : H - 1;
      const int j0 = fj < 0 ? 0 : fj, j1 = fj + 1 < W - 1 ? fj + 1 : W - 1;
      const float* gp = g + p * HW;
      float acc = d[e];
      for (int i = i0; i <= i1; ++i)
        for (int j = j0; j <= j1; ++j)
          if (cpu::rotation_source(i, j, H, W, c, s) == r) acc += gp[i * W + j];
      d[e] = acc;
    });
  }
};

// One thread per destination element of the [outer, L, inner] view. The CPU's forward along
// the last axis (inner = 1) writes 0 + x (turning −0 into +0), elsewhere a copy: mirrored.
struct flip_kernel {
  const float* src;
  float* dst;
  int n, L, inner;
  bool accumulate;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* src = this->src;
    float* dst = this->dst;
    const int L = this->L, inner = this->inner;
    const bool accumulate = this->accumulate;
    for_each_index(ctx, n, [=](int e) {
      const int ol = e / inner, i = e - ol * inner, o = ol / L, l = ol - o * L;
      const float v = src[(o * L + (L - 1 - l)) * inner + i];
      dst[e] = accumulate ? dst[e] + v : (inner == 1 ? 0.f + v : v);
    });
  }
};

}  // namespace modelmix::ops::cuda
