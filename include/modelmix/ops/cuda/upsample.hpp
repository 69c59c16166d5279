#pragma once
// 2× spatial upsampling on a CUDA device, as the g++-compiled core calls it (ops/upsample.hpp):
// float launches of the kernels in ops/cuda/upsample.cuh, compiled into modelmix::cuda
// (src/cuda/upsample.cu) or, in the tests, into the emulated device (tests/support/emu_device.cpp).
// Same contract as ops/cpu/upsample.hpp, whose arithmetic they mirror:
//
//   upsample_nearest2x            x [planes, H, W] → y [planes, 2H, 2W], y[2i+a, 2j+b] = x[i, j]
//   upsample_nearest2x_backward   d[i, j] (+)= (g[2i, 2j] + g[2i, 2j+1]) + (g[2i+1, 2j] + g[2i+1, 2j+1])
//   upsample_bilinear2x           PyTorch's align_corners=False, along H then along W
//   upsample_bilinear2x_backward  d += its transpose
//
// The backward passes are gathers: each input element sums the outputs that read it in a fixed
// order (no atomics, reproducible). Pointers are device memory; work is queued on the calling
// thread's cuda::context stream.
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void upsample_nearest2x(const float* x, float* y, index_t planes, index_t H, index_t W);
void upsample_nearest2x_backward(const float* g, float* d, index_t planes, index_t H, index_t W, bool assign = false);

void upsample_bilinear2x(const float* x, float* y, index_t planes, index_t H, index_t W);
void upsample_bilinear2x_backward(const float* g, float* d, index_t planes, index_t H, index_t W);

}  // namespace modelmix::ops::cuda
