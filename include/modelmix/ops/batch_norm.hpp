#pragma once
// Batch normalisation over the channels of NCHW, PyTorch's BatchNorm2d semantics.
//
//   x [N, C, H, W], gamma [C], beta [C], running_mean [C], running_var [C];  M = N·H·W
//   y[n,c,h,w] = γ_c · (x[n,c,h,w] − μ_c) · r_c + β_c,    r_c = 1 / sqrt(σ²_c + ε)
//
// training: μ_c, σ²_c are the batch mean and *biased* variance over (N, H, W); the running
//           stats move towards the batch with the *unbiased* variance:
//             running_mean ← (1−m)·running_mean + m·μ,  running_var ← (1−m)·running_var + m·σ²·M/(M−1)
//           (skipped when update_running_stats is false, e.g. for a virtual mixed model whose
//           host keeps its own statistics).
// eval:     μ_c, σ²_c are the running stats, read at the time of the call.
//
// Backward, with x̂ = (x − μ)·r and sums over (n, h, w) of channel c:
//   ∂β_c += Σ g      ∂γ_c += Σ g·x̂
//   ∂x    += γ_c·r_c·(g − Σg/M − x̂·Σ(g·x̂)/M)    training (the batch stats depend on x)
//   ∂x    += γ_c·r_c·g                           eval
// Statistics are accumulated in double; x̂ is recomputed in backward from the saved μ and r.
#include <cmath>
#include <vector>

#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

// The running statistics a batch_norm2d call reads (eval) or updates (training). Holds
// references: the stats stay in the layer that owns them.
template <class T>
struct batch_norm_state {
  Tensor<T>& running_mean;  // [C]
  Tensor<T>& running_var;   // [C]
  T momentum = T(0.1);
  T eps = T(1e-5);
  bool update_running_stats = true;  // training only
};

template <class T>
Var<T> batch_norm2d(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta, const batch_norm_state<T>& state,
                    bool training) {
  Tape<T>& tape = autograd::common_tape("batch_norm2d", {x, gamma, beta});
  const Shape& s = x.shape();
  detail::require_nchw("batch_norm2d", s);
  const index_t N = s[0], C = s[1], HW = s[2] * s[3], M = N * HW;
  const Shape per_channel{C};
  MODELMIX_REQUIRE(gamma.shape() == per_channel && beta.shape() == per_channel, "batch_norm2d: gamma ",
                   gamma.shape(), " and beta ", beta.shape(), " must both be ", per_channel, " for input ", s);
  MODELMIX_REQUIRE(state.running_mean.shape() == per_channel && state.running_var.shape() == per_channel,
                   "batch_norm2d: running_mean ", state.running_mean.shape(), " and running_var ",
                   state.running_var.shape(), " must both be ", per_channel, " for input ", s);
  MODELMIX_REQUIRE(!training || M > 1, "batch_norm2d: training needs more than one value per channel, got input ", s);

  std::vector<double> mean(static_cast<std::size_t>(C)), rstd(static_cast<std::size_t>(C));
  Tensor<T> y(s);
  const T *px = x.value().data(), *pg = gamma.value().data(), *pb = beta.value().data();
  T* py = y.data();
  T *rm = state.running_mean.data(), *rv = state.running_var.data();
  const double m = double(state.momentum), eps = double(state.eps);
  const bool update = training && state.update_running_stats;
#pragma omp parallel for schedule(static) if (s.numel() >= detail::parallel_min_work)
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

  return tape.record(
      "batch_norm2d", std::move(y), {x, gamma, beta},
      [&tape, x, gamma, beta, mean = std::move(mean), rstd = std::move(rstd), N, C, HW, M, training](const Tensor<T>& g) {
        Tensor<T>* gx = tape.grad_slot(x);
        Tensor<T>* gg = tape.grad_slot(gamma);
        Tensor<T>* gb = tape.grad_slot(beta);
        const T *pgo = g.data(), *px = x.value().data(), *pgamma = gamma.value().data();
#pragma omp parallel for schedule(static) if (g.numel() >= detail::parallel_min_work)
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
          if (gb) (*gb)[c] += T(sum_g);
          if (gg) (*gg)[c] += T(sum_gxhat);
          if (!gx) continue;
          // ∂x = k·g + k_x̂·x̂ + k_0, i.e. per element a·g + b·x + d
          const double k = double(pgamma[c]) * r;
          const double k_xhat = training ? -k * sum_gxhat / double(M) : 0.0;
          const double k_0 = training ? -k * sum_g / double(M) : 0.0;
          const T a = T(k), b = T(k_xhat * r), d = T(k_0 - k_xhat * r * mu);
          for (index_t n = 0; n < N; ++n) {
            const T* go = pgo + (n * C + c) * HW;
            const T* in = px + (n * C + c) * HW;
            T* out = gx->data() + (n * C + c) * HW;
            for (index_t i = 0; i < HW; ++i) out[i] += a * go[i] + b * in[i] + d;
          }
        }
      });
}

}  // namespace modelmix::ops
