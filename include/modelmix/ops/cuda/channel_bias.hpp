#pragma once
// ops::add_channel_bias on a CUDA device, as the g++-compiled core calls it: float launches of
// the kernels in ops/cuda/channel_bias.cuh (src/cuda/channel_bias.cu; the emulated device in the
// tests). Same contract as ops/cpu/channel_bias.hpp (x, y, g [N, C, HW], b, gb [C]):
//
//   add_channel_bias                y[n,c,i] = x[n,c,i] + b[c]
//   add_channel_bias_backward_bias  gb[c] += float(Σ_i g[n,c,i]) for n = 0, 1, … in order: each
//                                   plane summed first (here in double, in a fixed order; the
//                                   CPU sums it in float), then added as the CPU does
//
// Pointers are device memory; work is queued on the calling thread's cuda::context stream.
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void add_channel_bias(const float* x, const float* b, float* y, index_t N, index_t C, index_t HW);

void add_channel_bias_backward_bias(const float* g, float* gb, index_t N, index_t C, index_t HW);

}  // namespace modelmix::ops::cuda
