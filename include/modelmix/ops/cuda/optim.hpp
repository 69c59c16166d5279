#pragma once
// The optimizers' updates and gradient clipping on a CUDA device, as the g++-compiled core calls
// them: float launches of the kernels in ops/cuda/optim.cuh (src/cuda/optim.cu; the emulated
// device in the tests). Same per-element arithmetic as the CPU loops of optim/adam.hpp,
// optim/sgd.hpp and optim/clip_grad_norm.hpp, in double, one rounding per operation:
//
//   adam_step   θ, m, v updated in place from g (one parameter; the host computes the
//               step's scalars: step_size = lr / (1 − β1^t), inv_sqrt_bc2 = 1 / √(1 − β2^t),
//               shrink = 1 − lr·weight_decay for decoupled decay, else 1)
//   sgd_step    θ and the momentum buffer (nullptr: no momentum) updated in place from g
//   grad_norm   norm[0] = √(Σ_k Σ_i g_k[i]²) over `count` gradients: each gradient's Σ g² by a
//               fixed-order device reduction (double), the total summed over k = 0, 1, … in order
//   clip_grads  g_k ← float(double(g_k)·max_norm / (norm + 1e-6)) for every k when the norm that
//               `norm` points to (device memory, read by the kernel) is finite and > max_norm;
//               otherwise the gradients are left untouched
//
// Pointers are device memory (grad_view arrays themselves are host arrays); work is queued on the
// calling thread's cuda::context stream, nothing waits for it.
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

struct adam_step_args {
  float* theta = nullptr;
  const float* grad = nullptr;
  float* exp_avg = nullptr;     // m
  float* exp_avg_sq = nullptr;  // v
  index_t n = 0;
  double step_size = 0, inv_sqrt_bc2 = 1, shrink = 1;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool l2 = true;  // weight decay added to the gradient (Adam) rather than decoupled (AdamW)
};
void adam_step(const adam_step_args& args);

struct sgd_step_args {
  float* theta = nullptr;
  const float* grad = nullptr;
  float* momentum_buffer = nullptr;  // nullptr: momentum 0
  index_t n = 0;
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first = false;  // the optimizer's first step: the buffer takes d as it is
};
void sgd_step(const sgd_step_args& args);

struct grad_view {
  float* data = nullptr;
  index_t n = 0;
};
// norm: one device double. Uses the thread's cuda::context workspace as scratch.
void grad_norm(const grad_view* grads, int count, double* norm);
void clip_grads(const grad_view* grads, int count, const double* norm, double max_norm);

}  // namespace modelmix::ops::cuda
