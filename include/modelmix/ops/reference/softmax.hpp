#pragma once
// Plain-loop oracle for ops::softmax_channels: y[n,c,s] = exp(x[n,c,s]) / Σ_c' exp(x[n,c',s]),
// evaluated in long double straight from the definition (no max shift), for x [N, C, ...].
#include <cmath>
#include <vector>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops::reference {

template <class T>
Tensor<T> softmax_channels(const Tensor<T>& x) {
  const index_t N = x.dim(0), C = x.dim(1), S = x.shape().stride(1);
  Tensor<T> y(x.shape());
  for (index_t n = 0; n < N; ++n)
    for (index_t s = 0; s < S; ++s) {
      long double total = 0;
      for (index_t c = 0; c < C; ++c) total += std::exp(static_cast<long double>(x[(n * C + c) * S + s]));
      for (index_t c = 0; c < C; ++c)
        y[(n * C + c) * S + s] = T(std::exp(static_cast<long double>(x[(n * C + c) * S + s])) / total);
    }
  return y;
}

}  // namespace modelmix::ops::reference
