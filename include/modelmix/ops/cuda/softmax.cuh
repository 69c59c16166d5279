#pragma once
// Kernel bodies of ops/cuda/softmax.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. One thread per position (n, s)
// walks the C channels of that position (stride S): neighbouring threads read neighbouring
// positions of each channel, coalesced when S is large (the NCHW maps of a segmentation head);
// no shared memory, no barriers. Grid-stride over the N·S positions (32-bit counts); any 1D
// grid of blocks of any multiple of 32 threads.
#include <math.h>

#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid
#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "modelmix/ops/cuda/softmax.hpp"

namespace modelmix::ops::cuda {

inline constexpr int softmax_threads = elementwise_threads;

// The CPU loop's arithmetic per position: the running max (std::max order), the float sum of
// the exponentials over c = 0, 1, …, its reciprocal, then y = e · (1/sum). The exponential is
// recomputed in the last pass rather than stored and read back (the same value: expf is a
// function of its argument).
struct softmax_kernel {
  const float* x;
  float* y;
  int N, C, S;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* x = this->x;
    float* y = this->y;
    const int C = this->C, S = this->S;
    for_each_index(ctx, N * S, [=](int p) {
      const int n = p / S, s = p - n * S;
      const float* in = x + (n * C) * S + s;
      float* out = y + (n * C) * S + s;
      float m = in[0];
      for (int c = 1; c < C; ++c) {
        const float v = in[c * S];
        m = m < v ? v : m;
      }
      float sum = 0.f;
      for (int c = 0; c < C; ++c) sum += expf(in[c * S] - m);
      const float inv = 1.f / sum;
      for (int c = 0; c < C; ++c) out[c * S] = expf(in[c * S] - m) * inv;
    });
  }
};

struct softmax_backward_kernel {
  const float* g;
  const float* y;
  float* d;
  int N, C, S;
  bool assign;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* g = this->g;
    const float* y = this->y;
    float* d = this->d;
    const int C = this->C, S = this->S;
    const bool assign = this->assign;
    for_each_index(ctx, N * S, [=](int p) {
      const int n = p / S, s = p - n * S, base = (n * C) * S + s;
      float dot = 0.f;
      for (int c = 0; c < C; ++c) dot += g[base + c * S] * y[base + c * S];
      for (int c = 0; c < C; ++c) {
        const int i = base + c * S;
        const float v = y[i] * (g[i] - dot);
        d[i] = assign ? v : d[i] + v;
      }
    });
  }
};

}  // namespace modelmix::ops::cuda
