#pragma once
// ops::rotate / ops::rotate_planes and ops::flip on a CUDA device, as the g++-compiled core
// calls them: float launches of the kernels in ops/cuda/geometry.cuh (src/cuda/geometry.cu;
// the emulated device in the tests). Same contract as ops/cpu/rotate.hpp and ops/cpu/flip.hpp:
//
//   rotate_planes           y[p, q] = x[p, src(q)], or fill where src(q) < 0, for `planes` H×W
//                           planes; src = cpu::rotation_source(i, j, H, W, c, s) — the CPU's
//                           own index map, evaluated per pixel (c, s = cos θ, sin θ)
//   rotate_planes_backward  d[p, r] += Σ g[p, q] over the q with src(q) = r, added one by one
//                           in increasing q: cpu::gather_planes_backward's order, as a gather
//   flip_into               dst[o, l, i] (+)= src[o, L−1−l, i] for an [outer, L, inner] view
//                           (overwrite for the forward, accumulate = true for the backward)
//
// Pointers are device memory; work is queued on the calling thread's cuda::context stream.
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void rotate_planes(const float* x, float* y, index_t planes, index_t H, index_t W, double c, double s, float fill);

void rotate_planes_backward(const float* g, float* d, index_t planes, index_t H, index_t W, double c, double s);

void flip_into(const float* src, float* dst, index_t outer, index_t L, index_t inner, bool accumulate);

}  // namespace modelmix::ops::cuda
