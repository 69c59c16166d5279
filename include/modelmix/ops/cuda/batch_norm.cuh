#pragma once
// Kernel bodies of ops/cuda/batch_norm.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. Grid = one block of
// batch_norm_threads per channel (block c owns channel c). Each thread walks the channel's N
// planes, a stride of batch_norm_threads through each (coalesced), keeping double partials;
// block_sum (ops/cuda/block_reduce.cuh) adds the threads in a fixed order, thread 0 does the
// per-channel scalar work of the CPU loop and hands the plane's coefficients to the block
// through shared memory, then every thread writes its share of the channel.
#include <math.h>

#include "modelmix/ops/cuda/batch_norm.hpp"
#include "modelmix/ops/cuda/block_reduce.cuh"
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

inline constexpr int batch_norm_threads = 256;

struct batch_norm_forward_kernel {
  static constexpr int max_threads = batch_norm_threads;
  struct smem {
    block_sum_smem<batch_norm_threads, double, 1> sum;
    double mu;   // the batch mean, from thread 0 to the block
    float a, b;  // y = a·x + b of this channel
  };
  const float* x;
  const float* gamma;
  const float* beta;
  float* rm;
  float* rv;
  double momentum, eps;
  float* y;
  double* mean;
  double* rstd;
  int N, C, HW;
  bool training, update;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const int c = ctx.block().x, t = ctx.linear_thread();
    const int N = this->N, C = this->C, HW = this->HW;
    const double M = double(N) * double(HW);
    const float* x = this->x;
    double mu, var;
    if (training) {  // uniform over the grid
      double v[1] = {0.0};
      for (int n = 0; n < N; ++n) {
        const float* in = x + (n * C + c) * HW;
        for (int i = t; i < HW; i += batch_norm_threads) v[0] += double(in[i]);
      }
      block_sum(ctx, sm.sum, v, 1u);
      if (t == 0) sm.mu = v[0] / M;
      ctx.sync();  // also: thread 0 has read sm.sum before the next block_sum writes it
      mu = sm.mu;
      double q[1] = {0.0};  // two passes: Σ(x − μ)² does not cancel like Σx² − Mμ²
      for (int n = 0; n < N; ++n) {
        const float* in = x + (n * C + c) * HW;
        for (int i = t; i < HW; i += batch_norm_threads) {
          const double d = double(in[i]) - mu;
          q[0] += d * d;
        }
      }
      block_sum(ctx, sm.sum, q, 1u);
      var = q[0] / M;
      if (t == 0 && update) {
        const double m = momentum;
        rm[c] = float((1 - m) * double(rm[c]) + m * mu);
        rv[c] = float((1 - m) * double(rv[c]) + m * var * M / (M - 1));
      }
    } else {
      mu = double(rm[c]);
      var = double(rv[c]);
    }
    if (t == 0) {
      const double r = 1.0 / sqrt(var + eps);
      mean[c] = mu;
      rstd[c] = r;
      sm.a = float(double(gamma[c]) * r);
      sm.b = float(double(beta[c]) - mu * double(gamma[c]) * r);
    }
    ctx.sync();
    const float a = sm.a, b = sm.b;
    for (int n = 0; n < N; ++n) {
      const float* in = x + (n * C + c) * HW;
      float* out = y + (n * C + c) * HW;
      for (int i = t; i < HW; i += batch_norm_threads) out[i] = a * in[i] + b;
    }
  }
};

struct batch_norm_backward_kernel {
  static constexpr int max_threads = batch_norm_threads;
  struct smem {
    block_sum_smem<batch_norm_threads, double, 2> sum;
    float a, b, d;  // ∂x = a·g + b·x + d of this channel
  };
  const float* g;
  const float* x;
  const float* gamma;
  const double* mean;
  const double* rstd;
  float* gx;
  float* gg;
  float* gb;
  int N, C, HW;
  bool training, assign;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const int c = ctx.block().x, t = ctx.linear_thread();
    const int N = this->N, C = this->C, HW = this->HW;
    const float* g = this->g;
    const float* x = this->x;
    const double mu = mean[c], r = rstd[c];
    double v[2] = {0.0, 0.0};  // Σg, Σg·x̂
    for (int n = 0; n < N; ++n) {
      const float* go = g + (n * C + c) * HW;
      const float* in = x + (n * C + c) * HW;
      for (int i = t; i < HW; i += batch_norm_threads) {
        v[0] += double(go[i]);
        v[1] += double(go[i]) * (double(in[i]) - mu) * r;
      }
    }
    block_sum(ctx, sm.sum, v, 3u);
    if (t == 0) {
      if (gb) gb[c] += float(v[0]);
      if (gg) gg[c] += float(v[1]);
      const double M = double(N) * double(HW);
      const double k = double(gamma[c]) * r;
      const double k_xhat = training ? -k * v[1] / M : 0.0;
      const double k_0 = training ? -k * v[0] / M : 0.0;
      sm.a = float(k);
      sm.b = float(k_xhat * r);
      sm.d = float(k_0 - k_xhat * r * mu);
    }
    if (!gx) return;  // uniform over the grid: the whole block leaves, no barrier follows
    ctx.sync();
    const float a = sm.a, b = sm.b, d = sm.d;
    for (int n = 0; n < N; ++n) {
      const float* go = g + (n * C + c) * HW;
      const float* in = x + (n * C + c) * HW;
      float* out = gx + (n * C + c) * HW;
      if (assign)
        for (int i = t; i < HW; i += batch_norm_threads) out[i] = a * go[i] + b * in[i] + d;
      else
        for (int i = t; i < HW; i += batch_norm_threads) out[i] += a * go[i] + b * in[i] + d;
    }
  }
};

}  // namespace modelmix::ops::cuda
