#pragma once
// Batch normalisation loops of the CPU backend (ops/batch_norm.hpp has the math). One channel
// per OpenMP iteration; statistics in double.
#include <cmath>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

struct batch_norm_extents {
  index_t N, C, HW;
};

// y = γ·(x − μ)·r + β per channel. Training: μ, σ² from the batch, and with `update` the
// running stats move towards them; eval: μ, σ² are the running stats. Writes mean[c] = μ and
// rstd[c] = r for the backward.
template <class T>
void batch_norm2d_forward(const batch_norm_extents& e, const T* px, const T* pg, const T* pb, T* rm, T* rv,
                          double momentum, double eps, bool training, bool update, T* py, double* mean,
                          double* rstd) {
  const index_t N = e.N, C = e.C, HW = e.HW, M = N * HW;
  const double m = momentum;
#pragma omp parallel for schedule(static) if (N * C * HW >= parallel_min_work)
  for (index_t c = 0; c < C; ++c) {
    double mu, var;
    if (training) {
      double total = 0;
      for (index_t n = 0; n < N; ++n) {
        const T* in = px + (n * C + c) * HW;
#pragma omp simd reduction(+ : total)
        for (index_t i = 0; i < HW; ++i) total += double(in[i]);
      }
      mu = total / double(M);
      double sq = 0;  // two passes: Σ(x − μ)² does not cancel like Σx² − Mμ²
      for (index_t n = 0; n < N; ++n) {
        const T* in = px + (n * C + c) * HW;
#pragma omp simd reduction(+ : sq)
        for (index_t i = 0; i < HW; ++i) sq += (double(in[i]) - mu) * (double(in[i]) - mu);
      }
      var = sq / double(M);
      if (update) {
        rm[c] = T((1 - m) * double(rm[c]) + m * mu);
        rv[c] = T((1 - m) * double(rv[c]) + m * var * double(M) / double(M - 1));
      }
    } else {
      mu = double(rm[c]);
      var = double(rv[c]);
    }
    mean[c] = mu;
    rstd[c] = 1.0 / std::sqrt(var + eps);
    // y = a·x + b with a = γ·r, b = β − μ·a
    const T a = T(double(pg[c]) * rstd[c]), b = T(double(pb[c]) - mu * double(pg[c]) * rstd[c]);
    for (index_t n = 0; n < N; ++n) {
      const T* in = px + (n * C + c) * HW;
      T* out = py + (n * C + c) * HW;
      for (index_t i = 0; i < HW; ++i) out[i] = a * in[i] + b;
    }
  }

}

// ∂β += Σg, ∂γ += Σg·x̂, ∂x += γ·r·(g − Σg/M − x̂·Σ(g·x̂)/M) (training) or γ·r·g (eval).
// gx, gg, gb may each be null (not wanted); the others are accumulated into, except gx when
// `assign_gx` (then written).
template <class T>
void batch_norm2d_backward(const batch_norm_extents& e, bool training, const T* pgo, const T* px, const T* pgamma,
                           const double* mean, const double* rstd, T* gx, T* gg, T* gb, bool assign_gx = false) {
  const index_t N = e.N, C = e.C, HW = e.HW, M = N * HW;
#pragma omp parallel for schedule(static) if (N * C * HW >= parallel_min_work)
  for (index_t c = 0; c < C; ++c) {
    const double mu = mean[c], r = rstd[c];
    double sum_g = 0, sum_gxhat = 0;
    for (index_t n = 0; n < N; ++n) {
      const T *go = pgo + (n * C + c) * HW, *in = px + (n * C + c) * HW;
#pragma omp simd reduction(+ : sum_g, sum_gxhat)
      for (index_t i = 0; i < HW; ++i) {
        sum_g += double(go[i]);
        sum_gxhat += double(go[i]) * (double(in[i]) - mu) * r;
      }
    }
    if (gb) gb[c] += T(sum_g);
    if (gg) gg[c] += T(sum_gxhat);
    if (!gx) continue;
    // ∂x = k·g + k_x̂·x̂ + k_0, i.e. per element a·g + b·x + d
    const double k = double(pgamma[c]) * r;
    const double k_xhat = training ? -k * sum_gxhat / double(M) : 0.0;
    const double k_0 = training ? -k * sum_g / double(M) : 0.0;
    const T a = T(k), b = T(k_xhat * r), d = T(k_0 - k_xhat * r * mu);
    for (index_t n = 0; n < N; ++n) {
      const T* go = pgo + (n * C + c) * HW;
      const T* in = px + (n * C + c) * HW;
      T* out = gx + (n * C + c) * HW;
      if (assign_gx)
        for (index_t i = 0; i < HW; ++i) out[i] = a * go[i] + b * in[i] + d;
      else
        for (index_t i = 0; i < HW; ++i) out[i] += a * go[i] + b * in[i] + d;
    }
  }
}

}  // namespace modelmix::ops::cpu
