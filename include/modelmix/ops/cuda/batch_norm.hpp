#pragma once
// ops::batch_norm2d on a CUDA device, as the g++-compiled core calls it: float launches of the
// kernels in ops/cuda/batch_norm.cuh (src/cuda/batch_norm.cu; the emulated device in the tests).
// Same contract and arithmetic as ops/cpu/batch_norm.hpp (x, y, g, gx are [N, C, HW]; the
// per-channel vectors [C]; M = N·HW):
//
//   batch_norm2d_forward   training: μ = Σx/M, σ² = Σ(x − μ)²/M (two passes, in double); with
//                          `update` the running stats move towards μ and the unbiased σ²·M/(M−1)
//                          with `momentum`; eval: μ, σ² = running stats. Writes mean[c] = μ and
//                          rstd[c] = 1/sqrt(σ² + ε) (double, device) and y = a·x + b with
//                          a = float(γ·r), b = float(β − μ·γ·r).
//   batch_norm2d_backward  ∂β += Σg, ∂γ += Σg·x̂ (double sums), ∂x (+)= a·g + b·x + d with the
//                          CPU's a, b, d (training: the batch statistics' terms; eval: γ·r·g).
//                          gx, gg, gb may each be null; gx is written instead of added with
//                          `assign_gx`.
//
// One block per channel; every sum is a fixed-order block reduction (the same bits run after
// run). Pointers are device memory; work is queued on the calling thread's cuda::context stream.
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void batch_norm2d_forward(index_t N, index_t C, index_t HW, const float* x, const float* gamma, const float* beta,
                          float* running_mean, float* running_var, double momentum, double eps, bool training,
                          bool update, float* y, double* mean, double* rstd);

void batch_norm2d_backward(index_t N, index_t C, index_t HW, bool training, const float* g, const float* x,
                           const float* gamma, const double* mean, const double* rstd, float* gx, float* gg,
                           float* gb, bool assign_gx = false);

}  // namespace modelmix::ops::cuda
