#pragma once
// Kernel body of ops/cuda/dropout.hpp: a functor `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. Grid-stride over 32-bit counts; any
// 1D grid of blocks of any multiple of 32 threads. The mask is ops/dropout_mask.hpp's, the CPU
// loop's, fed the same 64-bit flat index.
#include <cstdint>

#include "modelmix/ops/cuda/dropout.hpp"
#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid
#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "modelmix/ops/dropout_mask.hpp"

namespace modelmix::ops::cuda {

inline constexpr int dropout_threads = elementwise_threads;

struct dropout_kernel {
  const float* in;
  float* out;
  int n;
  float keep_scale;
  std::uint64_t seed_hash;
  std::uint64_t threshold;
  bool accumulate;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* in = this->in;
    float* out = this->out;
    const float keep_scale = this->keep_scale;
    const std::uint64_t seed_hash = this->seed_hash, threshold = this->threshold;
    if (accumulate)
      return for_each_index(ctx, n, [=](int i) {
        const float scaled = in[i] * keep_scale;
        out[i] += dropout_keeps(seed_hash, std::uint64_t(i), threshold) ? scaled : 0.f;
      });
    for_each_index(ctx, n, [=](int i) {
      const float scaled = in[i] * keep_scale;
      out[i] = dropout_keeps(seed_hash, std::uint64_t(i), threshold) ? scaled : 0.f;
    });
  }
};

}  // namespace modelmix::ops::cuda
