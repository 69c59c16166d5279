#pragma once
// Mixed 2D convolution on a CUDA device, as the g++-compiled core calls it: the float
// launches of the kernels in ops/cuda/mixed_conv2d_*.cuh, compiled into modelmix::cuda
// (src/cuda/mixed_conv2d.cu; the tests' emulated device runs the same launch code).
// Same contract as ops/cpu/conv2d.hpp:
//
//   fprop  y  = conv(x, Σ c_i·W_i) + Σ c_i·b_i          overwrites y
//   dgrad  dx += dgrad(dy, Σ c_i·W_i)                    accumulates
//   wgrad  grad_weight_i += c_i·dW, grad_bias_i += c_i·db,
//          grad_coeff_i += ⟨dW, W_i⟩ + ⟨db, b_i⟩           accumulates, fixed-order (reproducible)
//
// Tensor pointers (x, y, dy, dx, W_i, b_i and every gradient pointer) are device memory; the
// coefficients c_i are host values in the spec. Work is queued on the calling thread's
// cuda::context stream.
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/conv2d_problem.hpp"

namespace modelmix::ops::cuda {

// The most parents the fused kernels take; a larger spec falls back (materialize + cuDNN).
inline constexpr int max_fused_terms = 8;

// Whether the fused kernels take this problem and spec (term count, 32-bit sizes).
[[nodiscard]] bool can_implement(const conv2d_problem& problem, const mixing::spec<float>& spec);

void conv2d_fprop(const conv2d_problem& problem, const float* x, float* y, const mixing::spec<float>& spec);
void conv2d_dgrad(const conv2d_problem& problem, const float* dy, float* dx, const mixing::spec<float>& spec);
// splits: how many slices of N·P·Q the weight gradient's GEMM is cut into (split-K, summed
// afterwards in a fixed order); 0 lets the plan choose (what the backend runs). Tests force it.
void conv2d_wgrad(const conv2d_problem& problem, const float* x, const float* dy, const mixing::spec<float>& spec,
                  int splits = 0);

// The naive baseline's first step (any number of terms): W = Σ c_i·W_i into `weight` and, when the spec has a bias,
// b = Σ c_i·b_i into `bias` (device memory of spec.weight_numel / spec.bias_numel floats).
void materialize(const mixing::spec<float>& spec, float* weight, float* bias);

}  // namespace modelmix::ops::cuda
