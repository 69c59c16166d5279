#pragma once
// losses::mix_with_reversed on a CUDA device, as the g++-compiled core calls it: float launches
// of the kernels in ops/cuda/mixup.cuh (src/cuda/mixup.cu; the emulated device in the tests).
// Same contract and arithmetic as ops/cpu/losses.hpp's loops (x, out, g, gx are [n, per]):
//
//   mix_with_reversed           out[b] = float(β_b·x[b] + (1 − β_b)·x[n−1−b]), in double
//   mix_with_reversed_backward  gx[b] += float(β_b·g[b]) and gx[n−1−b] += float((1 − β_b)·g[b]),
//                               each element adding its two terms in the CPU loop's order (b
//                               ascending): a gather, no atomics
//
// Pointers are device memory, the n mixing coefficients `betas` included; work is queued on the
// calling thread's cuda::context stream.
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void mix_with_reversed(const float* x, float* out, const double* betas, index_t n, index_t per);

void mix_with_reversed_backward(const float* g, float* gx, const double* betas, index_t n, index_t per);

}  // namespace modelmix::ops::cuda
