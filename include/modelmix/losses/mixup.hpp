#pragma once
// Mixup with the reversed batch (ModelMix steps 2 and 3).
//
//   β_n ~ Beta(α, α), drawn as X / (X + Y) with X, Y ~ Gamma(α, 1) independent
//   mix_with_reversed(x, β)[n] = β_n · x[n] + (1 − β_n) · x[N−1−n]      x [N, ...] any trailing shape
//
// The same op mixes images, targets and probabilities (q = βp + (1−β)p_rev). Each sample is
// used twice, so backward adds both contributions:
//   ∂/∂x[n] += β_n · g[n] + (1 − β_{N−1−n}) · g[N−1−n]
// For odd N the middle sample is mixed with itself and passes through unchanged.
//
// Reproducibility: draws are deterministic for a given seeded engine and standard library;
// std::gamma_distribution's algorithm is implementation-defined, so other standard
// libraries give other (equally distributed) draws.
//
// Loops in ops/cpu/losses.hpp.
#include <random>
#include <span>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/ops/cpu/losses.hpp"
#include "modelmix/ops/dispatch.hpp"

namespace modelmix::losses {

template <class Engine>
[[nodiscard]] double sample_beta(double alpha, Engine& rng) {
  MODELMIX_REQUIRE(alpha > 0, "sample_beta: alpha must be positive; got ", alpha);
  std::gamma_distribution<double> gamma(alpha, 1.0);
  for (;;) {
    const double x = gamma(rng), y = gamma(rng);
    // Both draws can underflow to 0 for tiny alpha; redraw rather than return 0/0.
    if (x + y > 0) return x / (x + y);
  }
}

// One β per sample.
template <class Engine>
[[nodiscard]] std::vector<double> sample_betas(index_t count, double alpha, Engine& rng) {
  MODELMIX_REQUIRE(count >= 0, "sample_betas: count must be non-negative; got ", count);
  std::vector<double> betas(static_cast<std::size_t>(count));
  for (double& b : betas) b = sample_beta(alpha, rng);
  return betas;
}

namespace detail {
template <class T>
void check_mix_arguments(const Shape& shape, std::span<const double> betas) {
  MODELMIX_REQUIRE(shape.rank() >= 1, "mix_with_reversed: the input needs a batch axis; got shape ", shape);
  MODELMIX_REQUIRE(static_cast<index_t>(betas.size()) == shape[0], "mix_with_reversed: ", betas.size(),
                   " mixing coefficients for a batch of ", shape[0], " (shape ", shape, ")");
}
}  // namespace detail

// Plain-tensor form, for values that need no gradient (images, targets).
template <class T>
[[nodiscard]] Tensor<T> mix_with_reversed(const Tensor<T>& x, std::span<const double> betas) {
  detail::check_mix_arguments<T>(x.shape(), betas);
  const index_t n = x.dim(0), per = n > 0 ? x.numel() / n : 0;
  const device where = ops::device_of("mix_with_reversed", {x});
  Tensor<T> out = Tensor<T>::empty(x.shape(), where);
  ops::run_on("mix_with_reversed", where,
              [&] { ops::cpu::mix_with_reversed(x.data(), out.data(), betas.data(), n, per); });
  return out;
}

template <class T>
[[nodiscard]] Var<T> mix_with_reversed(const Var<T>& x, std::span<const double> betas) {
  Tape<T>& tape = x.tape();
  std::vector<double> kept(betas.begin(), betas.end());
  return tape.record("mix_with_reversed", mix_with_reversed(x.value(), betas), {x},
                     [&tape, x, kept = std::move(kept)](const Tensor<T>& g) {
                       Tensor<T>* gx = tape.grad_slot(x);
                       if (!gx) return;
                       const index_t n = g.dim(0), per = n > 0 ? g.numel() / n : 0;
                       ops::run_on("mix_with_reversed", g.where(), [&] {
                         ops::cpu::mix_with_reversed_backward(g.data(), gx->data(), kept.data(), n, per);
                       });
                     });
}

}  // namespace modelmix::losses
