#pragma once
// Shared helpers for the op tests: random NCHW shapes (odd sizes and batch 1 included), a
// gradcheck wrapper that prints the report on failure, and tensors with well-separated values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>

#include "modelmix/autograd/gradcheck.hpp"
#include "support/random.hpp"

namespace modelmix::test {

// A random NCHW shape; the first draws of every test are batch 1 with odd H and W.
inline Shape random_nchw(std::mt19937& rng, int draw, index_t max_hw = 9) {
  std::uniform_int_distribution<index_t> n(1, 3), c(1, 4), hw(2, max_hw);
  index_t H = hw(rng), W = hw(rng);
  if (draw == 0) return Shape{1, c(rng), H | 1, W | 1};
  return Shape{draw == 1 ? 1 : n(rng), c(rng), H, W};
}

// Values k·spacing + small noise, shuffled: no two within `spacing/2`, so max/argmax are
// stable under the gradient checker's perturbation and there are no ties.
inline Tensor<double> distinct_tensor(Shape shape, unsigned seed, double spacing = 0.01) {
  Tensor<double> t(std::move(shape));
  std::vector<index_t> order(static_cast<std::size_t>(t.numel()));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::uniform_real_distribution<double> noise(-0.2 * spacing, 0.2 * spacing);
  for (index_t i = 0; i < t.numel(); ++i) t[i] = (double(order[i]) - double(t.numel()) / 2) * spacing + noise(rng);
  return t;
}

template <class Fn>
void require_gradients_match(Fn&& fn, std::vector<Tensor<double>> inputs, autograd::gradcheck_options options = {}) {
  const auto result = autograd::gradcheck(std::forward<Fn>(fn), std::move(inputs), {}, options);
  INFO(result.report);
  CHECK(result.ok);
  CHECK(result.checked > 0);
}

}  // namespace modelmix::test
