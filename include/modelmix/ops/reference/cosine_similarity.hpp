#pragma once
// Plain-loop oracle for ops::cosine_similarity: for each index u of the leading axes
// [0, k), y_u = Σ a·b / max(sqrt(Σ a²·Σ b²), ε) over the trailing axes, in long double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops::reference {

template <class T>
Tensor<T> cosine_similarity(const Tensor<T>& a, const Tensor<T>& b, int k, T eps = T(1e-8)) {
  std::vector<index_t> lead(a.shape().dims().begin(), a.shape().dims().begin() + k);
  Tensor<T> y(lead.empty() ? Shape{1} : Shape(lead));
  const index_t len = a.numel() / y.numel();
  for (index_t u = 0; u < y.numel(); ++u) {
    long double dot = 0, aa = 0, bb = 0;
    for (index_t i = 0; i < len; ++i) {
      const long double x = a[u * len + i], z = b[u * len + i];
      dot += x * z;
      aa += x * x;
      bb += z * z;
    }
    y[u] = T(dot / std::max(std::sqrt(aa * bb), static_cast<long double>(eps)));
  }
  return y;
}

}  // namespace modelmix::ops::reference
