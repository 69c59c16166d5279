#pragma once
// Random softmax outputs and scribble-like labels for the loss tests.
#include <cstdint>
#include <random>

#include "support/random.hpp"

namespace modelmix::test {

// Positive, summing to 1 over the class axis of [N, C, H, W].
inline Tensor<double> random_probabilities(Shape shape, unsigned seed) {
  Tensor<double> p = random_tensor<double>(shape, seed, 0.05, 1.0);
  const index_t n = shape[0], c = shape[1], plane = shape[2] * shape[3];
  for (index_t b = 0; b < n; ++b)
    for (index_t i = 0; i < plane; ++i) {
      double s = 0;
      for (index_t k = 0; k < c; ++k) s += p[(b * c + k) * plane + i];
      for (index_t k = 0; k < c; ++k) p[(b * c + k) * plane + i] /= s;
    }
  return p;
}

// [N, H, W] labels in [0, classes) with roughly a third of the pixels set to `ignore`.
inline Tensor<std::uint8_t> random_labels(Shape shape, int classes, int ignore, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pick(0, classes + classes / 2);
  Tensor<std::uint8_t> labels(shape);
  for (index_t i = 0; i < labels.numel(); ++i) {
    const int v = pick(rng);
    labels[i] = static_cast<std::uint8_t>(v < classes ? v : ignore);
  }
  return labels;
}

inline Tensor<float> to_float(const Tensor<double>& t) {
  Tensor<float> f(t.shape());
  for (index_t i = 0; i < t.numel(); ++i) f[i] = float(t[i]);
  return f;
}

}  // namespace modelmix::test
