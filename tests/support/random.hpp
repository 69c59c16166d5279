#pragma once
// Seeded random tensors for tests.
#include <random>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::test {

template <class T = double>
Tensor<T> random_tensor(Shape shape, unsigned seed, T lo = T(-1), T hi = T(1)) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u{double(lo), double(hi)};
  Tensor<T> t(std::move(shape));
  for (index_t i = 0; i < t.numel(); ++i) t[i] = T(u(rng));
  return t;
}

// Largest |a − b| / max(1, |b|) over all elements; the tolerance measure the tests state.
template <class T>
double max_relative_error(const Tensor<T>& a, const Tensor<T>& b) {
  double worst = 0;
  for (index_t i = 0; i < a.numel(); ++i) {
    const double d = std::abs(double(a[i]) - double(b[i])) / std::max(1.0, std::abs(double(b[i])));
    worst = std::max(worst, d);
  }
  return worst;
}

}  // namespace modelmix::test
