#pragma once
// Plain-loop oracle for ops::max_pool2d: x [N, C, H, W] → y [N, C, ⌊H/2⌋, ⌊W/2⌋],
// y = max over each 2×2 window, written straight from the definition.
#include <algorithm>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops::reference {

template <class T>
Tensor<T> max_pool2d(const Tensor<T>& x) {
  const index_t N = x.dim(0), C = x.dim(1), Ho = x.dim(2) / 2, Wo = x.dim(3) / 2;
  Tensor<T> y(Shape{N, C, Ho, Wo});
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < Ho; ++i)
        for (index_t j = 0; j < Wo; ++j)
          y(n, c, i, j) = std::max({x(n, c, 2 * i, 2 * j), x(n, c, 2 * i, 2 * j + 1), x(n, c, 2 * i + 1, 2 * j),
                                    x(n, c, 2 * i + 1, 2 * j + 1)});
  return y;
}

}  // namespace modelmix::ops::reference
