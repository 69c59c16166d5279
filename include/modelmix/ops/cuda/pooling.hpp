#pragma once
// 2×2 max pooling on a CUDA device, as the g++-compiled core calls it (ops/pooling.hpp): float
// launches of the kernels in ops/cuda/pooling.cuh, compiled into modelmix::cuda
// (src/cuda/pooling.cu) or, in the tests, into the emulated device (tests/support/emu_device.cpp).
// Same contract as ops/cpu/pooling.hpp, whose loops they mirror:
//
//   max_pool2d           x [planes, H, W] → y [planes, Ho, Wo] and one argmax byte per output
//                        (window position 0..3, ties to the first maximum in row-major order)
//   max_pool2d_backward  d[argmax position of o] += g[o]; with `assign`, every element of d is
//                        written (= g there, 0 elsewhere, including an odd last row/column)
//
// Ho ≤ H/2 and Wo ≤ W/2 (the op passes the floor). Pointers are device memory (argmax too);
// work is queued on the calling thread's cuda::context stream.
#include <cstdint>

#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void max_pool2d(const float* x, float* y, std::uint8_t* argmax, index_t planes, index_t H, index_t W, index_t Ho,
                index_t Wo);

void max_pool2d_backward(const float* g, const std::uint8_t* argmax, float* d, index_t planes, index_t H, index_t W,
                         index_t Ho, index_t Wo, bool assign = false);

}  // namespace modelmix::ops::cuda
