#pragma once
// Batch normalisation loops of the CPU backend (ops/batch_norm.hpp has the math). One channel
// per OpenMP iteration; statistics in double.
#include <cmath>

#include "modelmix/ops/cpu/keep_or_zero.hpp"
#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

struct batch_norm_extents {
  index_t N, C, HW;
};

// The per-channel affine map y = a·x + b the normalisation reduces to (a = γ·r, b = β − μ·a),
// rounded to T once: the forward applies it, and a rectifying forward's backward re-applies it
// to find where the output was positive (the same expression, so the same signs).
template <class T>
struct bn_affine {
  T a, b;
  bn_affine(double gamma, double beta, double mu, double r) : a(T(gamma * r)), b(T(beta - mu * gamma * r)) {}
  T operator()(T x) const { return a * x + b; }
};

// y = γ·(x − μ)·r + β per channel, rectified (max(0, ·)) when `relu`. Training: μ, σ² from the
// batch, and with `update` the running stats move towards them; eval: μ, σ² are the running
// stats. Writes mean[c] = μ and rstd[c] = r for the backward.
template <class T>
void batch_norm2d_forward(const batch_norm_extents& e, const T* px, const T* pg, const T* pb, T* rm, T* rv,
                          double momentum, double eps, bool training, bool update, T* py, double* mean,
                          double* rstd, bool relu = false) {
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
    const bn_affine<T> f(double(pg[c]), double(pb[c]), mu, rstd[c]);
    for (index_t n = 0; n < N; ++n) {
      const T* in = px + (n * C + c) * HW;
      T* out = py + (n * C + c) * HW;
      if (relu)
        for (index_t i = 0; i < HW; ++i) {
          const T v = f(in[i]);
          out[i] = v > T(0) ? v : T(0);  // exactly cpu::relu's select (−0 and NaN become +0)
        }
      else
        for (index_t i = 0; i < HW; ++i) out[i] = f(in[i]);
    }
  }
}

namespace detail {
// One channel of batch_norm2d_backward; Rectified: the forward applied ReLU (see relu_beta).
template <bool Rectified, class T>
void batch_norm2d_backward_channel(const batch_norm_extents& e, index_t c, bool training, const T* pgo, const T* px,
                                   const T* pgamma, const T* relu_beta, double mu, double r, T* gx, T* gg, T* gb,
                                   bool assign_gx) {
  const index_t N = e.N, C = e.C, HW = e.HW, M = N * HW;
  // ReLU's backward first, where the forward rectified: g counts only where a·x + b > 0.
  const bn_affine<T> f(double(pgamma[c]), Rectified ? double(relu_beta[c]) : 0.0, mu, r);
  double sum_g = 0, sum_gxhat = 0;
  for (index_t n = 0; n < N; ++n) {
    const T *go = pgo + (n * C + c) * HW, *in = px + (n * C + c) * HW;
#pragma omp simd reduction(+ : sum_g, sum_gxhat)
    for (index_t i = 0; i < HW; ++i) {
      T g = go[i];
      if constexpr (Rectified) g = keep_or_zero(f(in[i]) > T(0), g);
      sum_g += double(g);
      sum_gxhat += double(g) * (double(in[i]) - mu) * r;
    }
  }
  if (gb) gb[c] += T(sum_g);
  if (gg) gg[c] += T(sum_gxhat);
  if (!gx) return;
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
      for (index_t i = 0; i < HW; ++i) {
        T g = go[i];
        if constexpr (Rectified) g = keep_or_zero(f(in[i]) > T(0), g);
        out[i] = a * g + b * in[i] + d;
      }
    else
      for (index_t i = 0; i < HW; ++i) {
        T g = go[i];
        if constexpr (Rectified) g = keep_or_zero(f(in[i]) > T(0), g);
        out[i] += a * g + b * in[i] + d;
      }
  }
}
}  // namespace detail

// ∂β += Σg, ∂γ += Σg·x̂, ∂x += γ·r·(g − Σg/M − x̂·Σ(g·x̂)/M) (training) or γ·r·g (eval).
// gx, gg, gb may each be null (not wanted); the others are accumulated into, except gx when
// `assign_gx` (then written). relu_beta: β when the forward rectified its output — g then
// counts only where that output was positive (ReLU's backward, fused: g·[a·x + b > 0], the
// forward's expression, so the same signs); null otherwise.
template <class T>
void batch_norm2d_backward(const batch_norm_extents& e, bool training, const T* pgo, const T* px, const T* pgamma,
                           const double* mean, const double* rstd, T* gx, T* gg, T* gb, bool assign_gx = false,
                           const T* relu_beta = nullptr) {
#pragma omp parallel for schedule(static) if (e.N * e.C * e.HW >= parallel_min_work)
  for (index_t c = 0; c < e.C; ++c) {
    if (relu_beta)
      detail::batch_norm2d_backward_channel<true>(e, c, training, pgo, px, pgamma, relu_beta, mean[c], rstd[c], gx, gg,
                                                  gb, assign_gx);
    else
      detail::batch_norm2d_backward_channel<false>(e, c, training, pgo, px, pgamma, relu_beta, mean[c], rstd[c], gx,
                                                   gg, gb, assign_gx);
  }
}

}  // namespace modelmix::ops::cpu
