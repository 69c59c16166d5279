#pragma once
// ops::softmax_channels on a CUDA device, as the g++-compiled core calls it: float launches of
// the kernels in ops/cuda/softmax.cuh (src/cuda/softmax.cu; the emulated device in the tests).
// Same contract and arithmetic as ops/cpu/softmax.hpp (x, y, g, d are [N, C, S]):
//
//   softmax_channels           y[n,c,s] = exp(x[n,c,s] − m[n,s]) · (1 / Σ_c' exp(x[n,c',s] − m[n,s])),
//                              m[n,s] = max_c x[n,c,s]; the sum runs over c in order, in float
//   softmax_channels_backward  d[n,c,s] (+)= y[n,c,s] · (g[n,c,s] − Σ_c' g[n,c',s]·y[n,c',s])
//
// Pointers are device memory; work is queued on the calling thread's cuda::context stream.
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void softmax_channels(const float* x, float* y, index_t N, index_t C, index_t S);

void softmax_channels_backward(const float* g, const float* y, float* d, index_t N, index_t C, index_t S,
                               bool assign = false);

}  // namespace modelmix::ops::cuda
