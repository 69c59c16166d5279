#pragma once
// Plain-loop oracle for ops::batch_norm2d, in long double, from the definitions:
//   training: μ_c = mean over (n, h, w), σ²_c = biased variance, y = γ(x − μ)/sqrt(σ² + ε) + β
//   eval:     the same with the given running mean / variance.
#include <cmath>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops::reference {

template <class T>
struct batch_norm2d_result {
  Tensor<T> y;
  Tensor<T> mean;  // [C] batch mean
  Tensor<T> var;   // [C] biased batch variance
};

template <class T>
Tensor<T> batch_norm2d_with_stats(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                                  const Tensor<T>& mean, const Tensor<T>& var, T eps) {
  Tensor<T> y(x.shape());
  for (index_t n = 0; n < x.dim(0); ++n)
    for (index_t c = 0; c < x.dim(1); ++c)
      for (index_t h = 0; h < x.dim(2); ++h)
        for (index_t w = 0; w < x.dim(3); ++w)
          y(n, c, h, w) = T(static_cast<long double>(gamma[c]) * (static_cast<long double>(x(n, c, h, w)) - mean[c]) /
                                std::sqrt(static_cast<long double>(var[c]) + eps) +
                            beta[c]);
  return y;
}

template <class T>
batch_norm2d_result<T> batch_norm2d_train(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta, T eps) {
  const index_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const long double M = static_cast<long double>(N * H * W);
  batch_norm2d_result<T> r{Tensor<T>(), Tensor<T>(Shape{C}), Tensor<T>(Shape{C})};
  for (index_t c = 0; c < C; ++c) {
    long double s = 0, sq = 0;
    for (index_t n = 0; n < N; ++n)
      for (index_t h = 0; h < H; ++h)
        for (index_t w = 0; w < W; ++w) s += x(n, c, h, w);
    const long double mu = s / M;
    for (index_t n = 0; n < N; ++n)
      for (index_t h = 0; h < H; ++h)
        for (index_t w = 0; w < W; ++w) sq += (x(n, c, h, w) - mu) * (x(n, c, h, w) - mu);
    r.mean[c] = T(mu);
    r.var[c] = T(sq / M);
  }
  r.y = batch_norm2d_with_stats(x, gamma, beta, r.mean, r.var, eps);
  return r;
}

}  // namespace modelmix::ops::reference
