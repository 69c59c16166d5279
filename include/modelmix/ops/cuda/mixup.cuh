#pragma once
// Kernel bodies of ops/cuda/mixup.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. One thread per element of the
// [n, per] batch, grid-stride over 32-bit counts; any 1D grid of blocks of any multiple of 32
// threads; no shared memory.
#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid
#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "modelmix/ops/cuda/mixup.hpp"

namespace modelmix::ops::cuda {

inline constexpr int mixup_threads = elementwise_threads;

struct mix_with_reversed_kernel {
  const float* x;
  float* out;
  const double* betas;
  int n, per, count;  // count = n·per

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* x = this->x;
    float* out = this->out;
    const double* betas = this->betas;
    const int n = this->n, per = this->per;
    for_each_index(ctx, count, [=](int e) {
      const int b = e / per, i = e - b * per;
      const double beta = betas[b];
      out[e] = float(beta * double(x[e]) + (1 - beta) * double(x[(n - 1 - b) * per + i]));
    });
  }
};

// Element (m, i) receives β_m·g[m, i] (from sample b = m) and (1 − β_{n−1−m})·g[n−1−m, i]
// (from b = n−1−m), each rounded to float and added to gx in the CPU loop's order: the smaller
// b first (for the middle sample of an odd batch, b = m both times: its own term first).
struct mix_with_reversed_backward_kernel {
  const float* g;
  float* gx;
  const double* betas;
  int n, per, count;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* g = this->g;
    float* gx = this->gx;
    const double* betas = this->betas;
    const int n = this->n, per = this->per;
    for_each_index(ctx, count, [=](int e) {
      const int m = e / per, i = e - m * per, partner = n - 1 - m;
      const float own = float(betas[m] * double(g[e]));
      const float other = float((1 - betas[partner]) * double(g[partner * per + i]));
      float v = gx[e];
      if (m <= partner) {
        v += own;
        v += other;
      } else {
        v += other;
        v += own;
      }
      gx[e] = v;
    });
  }
};

}  // namespace modelmix::ops::cuda
