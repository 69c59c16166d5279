#pragma once
// Kernel bodies of ops/cuda/elementwise.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. Grid-stride loops over 32-bit
// counts; any 1D grid of blocks of any multiple of 32 threads.
#include <math.h>

#include "modelmix/ops/cuda/block_reduce.cuh"
#include "modelmix/ops/cuda/elementwise.hpp"
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

inline constexpr int elementwise_threads = 256;
inline constexpr int sum_threads = 256;

inline idx3 elementwise_grid(int n) {
  const int blocks = (n + elementwise_threads - 1) / elementwise_threads;
  return {blocks < 1 ? 1 : (blocks > 4096 ? 4096 : blocks), 1, 1};
}

// f(i) for every i < n, spread over the grid.
template <class Ctx, class F>
MODELMIX_HOST_DEVICE void for_each_index(const Ctx& ctx, int n, F f) {
  const int stride = ctx.block_dim().x * ctx.grid_dim().x;
  for (int i = ctx.block().x * ctx.block_dim().x + ctx.linear_thread(); i < n; i += stride) f(i);
}

struct elementwise_kernel {
  elementwise_op op;
  float s;
  const float* a;
  const float* b;
  float* y;
  int n;
  bool assign;

  // The op is uniform over the grid: one branch per launch, outside the loop.
  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* a = this->a;
    const float* b = this->b;
    float* y = this->y;
    const float s = this->s;
    switch (op) {
      case elementwise_op::axpy: return for_each_index(ctx, n, [=](int i) { y[i] += s * a[i]; });
      case elementwise_op::add_constant: return for_each_index(ctx, n, [=](int i) { y[i] += s; });
      case elementwise_op::add: return for_each_index(ctx, n, [=](int i) { y[i] = a[i] + b[i]; });
      case elementwise_op::sub: return for_each_index(ctx, n, [=](int i) { y[i] = a[i] - b[i]; });
      case elementwise_op::mul: return for_each_index(ctx, n, [=](int i) { y[i] = a[i] * b[i]; });
      case elementwise_op::mul_backward: return for_each_index(ctx, n, [=](int i) { y[i] += a[i] * b[i]; });
      case elementwise_op::scale: return for_each_index(ctx, n, [=](int i) { y[i] = s * a[i]; });
      case elementwise_op::add_scalar: return for_each_index(ctx, n, [=](int i) { y[i] = a[i] + s; });
      case elementwise_op::log: return for_each_index(ctx, n, [=](int i) { y[i] = logf(a[i] + s); });
      case elementwise_op::log_backward: return for_each_index(ctx, n, [=](int i) { y[i] += b[i] / (a[i] + s); });
      case elementwise_op::relu: return for_each_index(ctx, n, [=](int i) { y[i] = a[i] > 0.f ? a[i] : 0.f; });
      case elementwise_op::relu_backward:
        if (assign) return for_each_index(ctx, n, [=](int i) { y[i] = a[i] > 0.f ? b[i] : 0.f; });
        return for_each_index(ctx, n, [=](int i) { y[i] += a[i] > 0.f ? b[i] : 0.f; });
    }
  }
};

// One block: each thread sums a strided share in double, then block_sum adds the threads in a
// fixed order. One block keeps the order independent of the grid; the losses it reduces are
// small next to a convolution (a grid-wide two-pass version is the next step if it shows up).
struct sum_kernel {
  using smem = block_sum_smem<sum_threads, double, 1>;
  const float* x;
  int n;
  double divisor;
  float* out;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    double v[1] = {0.0};
    for (int i = ctx.linear_thread(); i < n; i += sum_threads) v[0] += double(x[i]);
    block_sum(ctx, sm, v, 1u);
    if (ctx.linear_thread() == 0) out[0] = float(v[0] / divisor);
  }
};

struct add_broadcast_kernel {
  const float* g;
  double factor;
  float* d;
  int n;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float v = float(double(g[0]) * factor);
    float* d = this->d;
    for_each_index(ctx, n, [=](int i) { d[i] += v; });
  }
};

}  // namespace modelmix::ops::cuda
