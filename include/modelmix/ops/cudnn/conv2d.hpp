#pragma once
// The cuDNN baseline the fused CUDA kernels are measured against (fp32, NCHW, g++-compilable:
// no cudnn.h here). Defined in modelmix::cuda (src/cuda/cudnn_conv2d*.cpp).
//
//   x [N,C,H,W]  w [K,C,R,S]  b [K]  y [N,K,P,Q]; every pointer is device memory, work is queued
//   on the calling thread's cuda::context stream with its cuDNN handle and workspace.
//
// Plain convolution (one filter):
//   conv2d_fprop  y  = conv(x, w) (+ b)      overwrites y
//   conv2d_dgrad  dx += dgrad(dy, w)         accumulates (cuDNN beta = 1)
//   conv2d_wgrad  dw += wgrad(x, dy)         accumulates
//   conv2d_bgrad  db += Σ_{n,p,q} dy         accumulates
// The algorithm of each role is chosen once per problem shape by cudnnFind…Algorithm (timed by
// cuDNN on its own buffers, so ours are never clobbered) and cached for the process.
// The math type is CUDNN_FMA_MATH: plain fp32, no TF32 tensor cores (cuDNN's default math
// would allow TF32 on sm_80+), the same arithmetic as the fused kernels.
//
// Naive mixing (the baseline of ModelMix), same contract as ops/cuda/conv2d.hpp:
//   conv2d_fprop_naive  W = Σ c_i·W_i, b = Σ c_i·b_i into scratch (ops::cuda::materialize), then cuDNN
//   conv2d_dgrad_naive  W into scratch, then cuDNN backward data (+=)
//   conv2d_wgrad_naive  dW, db into scratch by cuDNN, then split_gradient
//   split_gradient      grad_weight_i += c_i·dW, grad_bias_i += c_i·db,
//                       grad_coeff_i  += ⟨dW, W_i⟩ + ⟨db, b_i⟩   (fixed-order reductions)
// A plain spec (one term, c = 1) reads W_0 and b_0 in place.
#include <array>
#include <string>

#include "modelmix/core/config.hpp"
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/conv2d_problem.hpp"

namespace modelmix::ops::cudnn {

// {N, K, P, Q} as cuDNN computes it from the descriptors this backend sets up
// (cudnnGetConvolution2dForwardOutputDim). Needs neither a device nor a cuDNN handle.
[[nodiscard]] std::array<index_t, 4> output_dims(const conv2d_problem& problem);

// Whether cuDNN can run here now (a device and a working cuDNN handle), and why not.
struct cudnn_availability {
  bool available = false;
  std::string reason;
};
[[nodiscard]] cudnn_availability available();

// `bias` may be null (no bias).
void conv2d_fprop(const conv2d_problem& problem, const float* x, const float* weight, const float* bias, float* y);
void conv2d_dgrad(const conv2d_problem& problem, const float* dy, const float* weight, float* dx);
void conv2d_wgrad(const conv2d_problem& problem, const float* x, const float* dy, float* grad_weight);
void conv2d_bgrad(const conv2d_problem& problem, const float* dy, float* grad_bias);

void conv2d_fprop_naive(const conv2d_problem& problem, const float* x, float* y, const mixing::spec<float>& spec);
void conv2d_dgrad_naive(const conv2d_problem& problem, const float* dy, float* dx, const mixing::spec<float>& spec);
void conv2d_wgrad_naive(const conv2d_problem& problem, const float* x, const float* dy, const mixing::spec<float>& spec);

// The naive backward's last step (also used by benchmarks that form dW another way): the full
// gradients dW [weight_numel] and db [bias_numel] (device memory; db may be null when the spec
// has no bias) are split into the spec's gradient pointers.
void split_gradient(const mixing::spec<float>& spec, const float* grad_weight, const float* grad_bias);

}  // namespace modelmix::ops::cudnn
