#pragma once
// Kernel bodies of ops/cuda/optim.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run.
//
// - adam / sgd: one grid-stride pass per parameter, each element updated with the CPU loop's
//   double arithmetic, operation for operation (no FMA contraction on the GPU: see *_rn below).
// - gradient norm: per gradient, a grid of blocks each sums its grid-stride share of g² in
//   double and reduces the block in a fixed order (block_sum) into one partial; when there is
//   more than one block, one block sums the partials in a fixed order. The totals of all
//   gradients are then added by one thread in parameter order and the square root stored in a
//   device double. Every order depends only on the sizes: the norm is the same bits run after
//   run (no atomics).
// - clip: one grid-stride pass per gradient that reads the norm from device memory and decides
//   there whether to scale, so the host never waits for the norm.
#include <float.h>
#include <math.h>

#include "modelmix/ops/cuda/block_reduce.cuh"
#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid, elementwise_threads
#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "modelmix/ops/cuda/optim.hpp"

namespace modelmix::ops::cuda {

inline constexpr int optim_threads = elementwise_threads;
inline constexpr int norm_threads = 256;
inline constexpr int norm_max_blocks = 1024;    // partials per gradient at most
inline constexpr int norm_elements_per_thread = 4;  // before a second block is worth it

// Blocks of the Σ g² pass over n elements: a function of n only (the summation order with it).
inline int norm_blocks(int n) {
  const int per_block = norm_threads * norm_elements_per_thread;
  const int blocks = n / per_block + (n % per_block != 0);
  return blocks < 1 ? 1 : (blocks > norm_max_blocks ? norm_max_blocks : blocks);
}

// Double arithmetic rounded once per operation, like the host loop (which has no FMA unless the
// host build enables one): nvcc would otherwise contract a·b + c into one fused operation,
// changing the last bit of the double and, rarely, of the float stored from it.
MODELMIX_HOST_DEVICE inline double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
MODELMIX_HOST_DEVICE inline double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
MODELMIX_HOST_DEVICE inline double sub_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}

// optim/adam.hpp's update, every operation rounded on its own (the CPU fuses its four
// multiply-adds, so the two can differ in the last bit of a double, rarely in a float):
//   th = θ·shrink;  g = l2 ? grad + wd·θ : grad
//   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g·g
//   θ = th − step_size·m / (√v·inv_sqrt_bc2 + eps)
struct adam_kernel {
  float* theta;
  const float* grad;
  float* m;
  float* v;
  int n;
  double step_size, inv_sqrt_bc2, shrink, beta1, beta2, eps, weight_decay;
  bool l2;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    float* theta = this->theta;
    const float* grad = this->grad;
    float* m = this->m;
    float* v = this->v;
    const double step_size = this->step_size, inv_sqrt_bc2 = this->inv_sqrt_bc2, shrink = this->shrink;
    const double beta1 = this->beta1, beta2 = this->beta2, eps = this->eps, weight_decay = this->weight_decay;
    const bool l2 = this->l2;
    for_each_index(ctx, n, [=](int i) {
      const double t0 = double(theta[i]);
      const double th = mul_rn(t0, shrink);
      const double g = l2 ? add_rn(double(grad[i]), mul_rn(weight_decay, t0)) : double(grad[i]);
      const double mi = add_rn(mul_rn(beta1, double(m[i])), mul_rn(1 - beta1, g));
      const double vi = add_rn(mul_rn(beta2, double(v[i])), mul_rn(mul_rn(1 - beta2, g), g));
      m[i] = float(mi);
      v[i] = float(vi);
      theta[i] = float(sub_rn(th, mul_rn(step_size, mi) / add_rn(mul_rn(sqrt(vi), inv_sqrt_bc2), eps)));
    });
  }
};

// optim/sgd.hpp's loop body:
//   d = grad + wd·θ
//   buf: b = first ? d : momentum·buf + (1 − dampening)·d;  buf = b;  d = nesterov ? d + momentum·b : b
//   θ = θ − lr·d
struct sgd_kernel {
  float* theta;
  const float* grad;
  float* buf;  // nullptr: no momentum
  int n;
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    float* theta = this->theta;
    const float* grad = this->grad;
    float* buf = this->buf;
    const double lr = this->lr, momentum = this->momentum, dampening = this->dampening;
    const double weight_decay = this->weight_decay;
    const bool nesterov = this->nesterov, first = this->first;
    for_each_index(ctx, n, [=](int i) {
      double d = add_rn(double(grad[i]), mul_rn(weight_decay, double(theta[i])));
      if (buf) {
        const double b = first ? d : add_rn(mul_rn(momentum, double(buf[i])), mul_rn(1 - dampening, d));
        buf[i] = float(b);
        d = nesterov ? add_rn(d, mul_rn(momentum, b)) : b;
      }
      theta[i] = float(sub_rn(double(theta[i]), mul_rn(lr, d)));
    });
  }
};

// out[block] = Σ g² over the block's grid-stride share (blocks of norm_threads threads).
struct sum_squares_kernel {
  using smem = block_sum_smem<norm_threads, double, 1>;
  const float* g;
  int n;
  double* out;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const int stride = norm_threads * ctx.grid_dim().x;
    double v[1] = {0.0};
    for (int i = ctx.block().x * norm_threads + ctx.linear_thread(); i < n; i += stride) {
      const double x = double(g[i]);
      v[0] += x * x;
    }
    block_sum(ctx, sm, v, 1u);
    if (ctx.linear_thread() == 0) out[ctx.block().x] = v[0];
  }
};

// out[0] = Σ partial[0 .. count) (one block).
struct sum_partials_kernel {
  using smem = block_sum_smem<norm_threads, double, 1>;
  const double* partial;
  int count;
  double* out;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    double v[1] = {0.0};
    for (int i = ctx.linear_thread(); i < count; i += norm_threads) v[0] += partial[i];
    block_sum(ctx, sm, v, 1u);
    if (ctx.linear_thread() == 0) out[0] = v[0];
  }
};

// norm[0] = √(sq[0] + sq[1] + … + sq[count − 1]), added in order by thread 0 (one warp).
struct norm_total_kernel {
  const double* sq;
  int count;
  double* norm;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    if (ctx.block().x != 0 || ctx.linear_thread() != 0) return;
    double total = 0.0;
    for (int k = 0; k < count; ++k) total += sq[k];
    norm[0] = sqrt(total);
  }
};

// g ← float(double(g)·max_norm / (norm + 1e-6)) when the norm is finite and above max_norm
// (norm ≥ 0, so "finite" is norm ≤ DBL_MAX: false for +inf and NaN).
struct clip_scale_kernel {
  float* g;
  int n;
  const double* norm;
  double max_norm;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const double total = norm[0];
    if (!(total <= DBL_MAX && total > max_norm)) return;
    const double scale = max_norm / (total + 1e-6);
    float* g = this->g;
    for_each_index(ctx, n, [=](int i) { g[i] = float(double(g[i]) * scale); });
  }
};

}  // namespace modelmix::ops::cuda
