#pragma once
// Kernel bodies of ops/cuda/pooling.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. Grid-stride loops over 32-bit
// counts (for_each_index of elementwise.cuh); any 1D grid of blocks of any multiple of 32 threads.
#include <stdint.h>

#include "modelmix/ops/cuda/elementwise.cuh"
#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "modelmix/ops/cuda/pooling.hpp"

namespace modelmix::ops::cuda {

// One thread per output: the four window values compared in row-major order with `>`, exactly
// as cpu::max_pool2d does (ties and NaNs resolve the same way).
struct max_pool2d_kernel {
  const float* x;
  float* y;
  uint8_t* argmax;
  int H, W, Ho, Wo;
  int n;  // planes · Ho · Wo

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* x = this->x;
    float* y = this->y;
    uint8_t* argmax = this->argmax;
    const int H = this->H, W = this->W, Ho = this->Ho, Wo = this->Wo;
    for_each_index(ctx, n, [=](int o) {
      const int j = o % Wo, pi = o / Wo, i = pi % Ho, p = pi / Ho;
      const float* r0 = x + (p * H + 2 * i) * W + 2 * j;
      const float* r1 = r0 + W;
      float best = r0[0];
      uint8_t k = 0;
      if (r0[1] > best) { best = r0[1]; k = 1; }
      if (r1[0] > best) { best = r1[0]; k = 2; }
      if (r1[1] > best) { best = r1[1]; k = 3; }
      y[o] = best;
      argmax[o] = k;
    });
  }
};

// A gather, one thread per input element: each input lies in at most one window, so it reads
// its window's argmax and gradient — no atomics, and `assign` writes every element (the pixels
// no window picked and an odd last row/column get 0).
struct max_pool2d_backward_kernel {
  const float* g;
  const uint8_t* argmax;
  float* d;
  int H, W, Ho, Wo;
  int n;  // planes · H · W
  bool assign;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* g = this->g;
    const uint8_t* argmax = this->argmax;
    float* d = this->d;
    const int H = this->H, W = this->W, Ho = this->Ho, Wo = this->Wo;
    // The gradient this input receives; false when no window picked it.
    const auto picked = [=](int e, float& v) {
      const int w = e % W, ph = e / W, h = ph % H, p = ph / H;
      const int i = h / 2, j = w / 2;
      if (i >= Ho || j >= Wo) return false;
      const int o = (p * Ho + i) * Wo + j;
      if (int(argmax[o]) != ((h & 1) << 1 | (w & 1))) return false;
      v = g[o];
      return true;
    };
    if (assign) {
      for_each_index(ctx, n, [=](int e) {
        float v = 0.f;
        d[e] = picked(e, v) ? v : 0.f;
      });
    } else {
      for_each_index(ctx, n, [=](int e) {
        float v;
        if (picked(e, v)) d[e] += v;
      });
    }
  }
};

}  // namespace modelmix::ops::cuda
