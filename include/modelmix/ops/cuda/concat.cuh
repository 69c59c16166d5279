#pragma once
// Kernel bodies of ops/cuda/concat.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. Grid-stride loops over the N·block
// elements of one input's block in every sample (32-bit counts); any 1D grid of blocks of any
// multiple of 32 threads.
#include "modelmix/ops/cuda/concat.hpp"
#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

inline constexpr int concat_threads = elementwise_threads;

// forward (backward = false): y[n·out_block + offset + i] = x[n·block + i]
// backward:                   x[n·block + i] (+)= y[n·out_block + offset + i]   (x is dst, y is g)
// for n < N, i < block; element e = n·block + i of the input block.
struct concat_block_kernel {
  const float* src;
  float* dst;
  int N, out_block, offset, block;
  bool backward;
  bool assign;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* src = this->src;
    float* dst = this->dst;
    const int out_block = this->out_block, offset = this->offset, block = this->block;
    const int n = N * block;
    if (!backward)
      return for_each_index(ctx, n, [=](int e) {
        const int s = e / block, i = e - s * block;
        dst[s * out_block + offset + i] = src[e];
      });
    if (assign)
      return for_each_index(ctx, n, [=](int e) {
        const int s = e / block, i = e - s * block;
        dst[e] = src[s * out_block + offset + i];
      });
    for_each_index(ctx, n, [=](int e) {
      const int s = e / block, i = e - s * block;
      dst[e] += src[s * out_block + offset + i];
    });
  }
};

}  // namespace modelmix::ops::cuda
