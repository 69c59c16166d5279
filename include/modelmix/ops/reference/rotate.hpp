#pragma once
// Plain-loop oracle for ops::rotate_planes / ops::rotate: every H×W plane of x (last two axes),
// output (i, j) ← input at (cy + sinθ·dj + cosθ·di, cx + cosθ·dj − sinθ·di) rounded half up,
// di = i − cy, dj = j − cx, centre ((H−1)/2, (W−1)/2); outside → fill. Evaluated per pixel
// with std::cos/std::sin of the angle (no exact multiples of 90°).
#include <cmath>
#include <numbers>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops::reference {

template <class T>
Tensor<T> rotate_planes(const Tensor<T>& x, double degrees, T fill) {
  const index_t H = x.dim(x.rank() - 2), W = x.dim(x.rank() - 1), planes = x.numel() / (H * W);
  const double theta = degrees * std::numbers::pi / 180.0;
  const double cy = double(H - 1) / 2, cx = double(W - 1) / 2;
  Tensor<T> y(x.shape());
  for (index_t p = 0; p < planes; ++p)
    for (index_t i = 0; i < H; ++i)
      for (index_t j = 0; j < W; ++j) {
        const double di = double(i) - cy, dj = double(j) - cx;
        const double si = cy + std::sin(theta) * dj + std::cos(theta) * di;
        const double sj = cx + std::cos(theta) * dj - std::sin(theta) * di;
        const auto ri = static_cast<index_t>(std::floor(si + 0.5)), rj = static_cast<index_t>(std::floor(sj + 0.5));
        const bool inside = ri >= 0 && ri < H && rj >= 0 && rj < W;
        y[(p * H + i) * W + j] = inside ? x[(p * H + ri) * W + rj] : fill;
      }
  return y;
}

}  // namespace modelmix::ops::reference
