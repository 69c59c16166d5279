#pragma once
// Plain-loop oracles for ops::upsample_*2x, written from PyTorch's general definitions for a
// scale factor of 2 (input length L, output length 2L, per axis):
//   nearest:                      src = ⌊o / 2⌋
//   bilinear, align_corners=False: s = max((o + 0.5)·(L / 2L) − 0.5, 0),
//                                  i0 = ⌊s⌋, i1 = min(i0 + 1, L − 1), λ = s − i0,
//                                  y = Σ over rows and columns of (1−λ)·x[i0] + λ·x[i1]
#include <algorithm>
#include <cmath>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops::reference {

template <class T>
Tensor<T> upsample_nearest2x(const Tensor<T>& x) {
  const index_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor<T> y(Shape{N, C, 2 * H, 2 * W});
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < 2 * H; ++i)
        for (index_t j = 0; j < 2 * W; ++j) y(n, c, i, j) = x(n, c, i / 2, j / 2);
  return y;
}

template <class T>
Tensor<T> upsample_bilinear2x(const Tensor<T>& x) {
  const index_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  struct source {
    index_t i0, i1;
    double lambda;
  };
  auto locate = [](index_t o, index_t L) {
    const double s = std::max((double(o) + 0.5) * (double(L) / double(2 * L)) - 0.5, 0.0);
    const auto i0 = static_cast<index_t>(std::floor(s));
    return source{i0, std::min(i0 + 1, L - 1), s - double(i0)};
  };
  Tensor<T> y(Shape{N, C, 2 * H, 2 * W});
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < 2 * H; ++i)
        for (index_t j = 0; j < 2 * W; ++j) {
          const source r = locate(i, H), q = locate(j, W);
          const double v = (1 - r.lambda) * ((1 - q.lambda) * x(n, c, r.i0, q.i0) + q.lambda * x(n, c, r.i0, q.i1)) +
                           r.lambda * ((1 - q.lambda) * x(n, c, r.i1, q.i0) + q.lambda * x(n, c, r.i1, q.i1));
          y(n, c, i, j) = T(v);
        }
  return y;
}

}  // namespace modelmix::ops::reference
