#pragma once
// Kernel bodies of ops/cuda/channel_bias.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run.
//
//   channel_bias_kernel           grid-stride over the N·C·HW elements (any 1D grid)
//   channel_bias_backward_kernel  one block of channel_bias_threads per channel c: for each n,
//                                 the plane's strided double partials, block_sum in a fixed
//                                 order, thread 0 adds float(sum) to gb[c]
#include "modelmix/ops/cuda/block_reduce.cuh"
#include "modelmix/ops/cuda/channel_bias.hpp"
#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

inline constexpr int channel_bias_threads = 256;

struct channel_bias_kernel {
  const float* x;
  const float* b;
  float* y;
  int n, C, HW;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* x = this->x;
    const float* b = this->b;
    float* y = this->y;
    const int C = this->C, HW = this->HW;
    for_each_index(ctx, n, [=](int i) { y[i] = x[i] + b[(i / HW) % C]; });
  }
};

struct channel_bias_backward_kernel {
  static constexpr int max_threads = channel_bias_threads;
  using smem = block_sum_smem<channel_bias_threads, double, 1>;
  const float* g;
  float* gb;
  int N, C, HW;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const int c = ctx.block().x, t = ctx.linear_thread();
    const int C = this->C, HW = this->HW;
    for (int n = 0; n < N; ++n) {
      const float* plane = g + (n * C + c) * HW;
      double v[1] = {0.0};
      for (int i = t; i < HW; i += channel_bias_threads) v[0] += double(plane[i]);
      block_sum(ctx, sm, v, 1u);
      if (t == 0) gb[c] += float(v[0]);
      ctx.sync();  // thread 0 has read sm before the next plane's block_sum writes it
    }
  }
};

}  // namespace modelmix::ops::cuda
