#pragma once
// ops::concat_channels on a CUDA device, as the g++-compiled core calls it: float launches of
// the kernels in ops/cuda/concat.cuh (src/cuda/concat.cu; the emulated device in the tests).
// Same contract as ops/cpu/concat.hpp, whose loops they mirror:
//
//   concat_channels           y[n] = xs[0][n] | xs[1][n] | …   (block[k] elements of xs[k] per sample,
//                                                              out_block = Σ_k block[k] per sample of y)
//   concat_channels_backward  dst[n, i] (+)= g[n, offset + i] for i < block (one input's block)
//
// The forward is one launch per input (each kernel copies one input's block of every sample),
// so the list of input pointers stays on the host. Pointers are device memory; work is queued
// on the calling thread's cuda::context stream.
#include <cstddef>

#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void concat_channels(const float* const* xs, const index_t* block, std::size_t count, float* y, index_t N,
                     index_t out_block);

void concat_channels_backward(const float* g, float* dst, index_t N, index_t out_block, index_t offset, index_t block,
                              bool assign = false);

}  // namespace modelmix::ops::cuda
