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
// Loops in ops/cpu/losses.hpp; on a CUDA device the kernels of ops/cuda/mixup.hpp, which read
// the β from a device copy (n doubles, uploaded per call; the Var form shares one copy between
// its forward and its backward closure).
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/ops/cpu/losses.hpp"
#include "modelmix/ops/cuda/mixup.hpp"
#include "modelmix/ops/dispatch.hpp"
#include "modelmix/tensor/device_memory.hpp"

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

// The β on the device (a device input): a copy of the n doubles, freed with its last owner.
// The upload is a host-to-device copy of the host's draws (no read back).
inline std::shared_ptr<double> betas_on_device(std::span<const double> betas) {
  const std::size_t bytes = betas.size() * sizeof(double);
  std::shared_ptr<double> d(static_cast<double*>(modelmix::detail::device_allocate(bytes)),
                            modelmix::detail::device_deleter{});
  modelmix::detail::device_copy(d.get(), betas.data(), bytes, modelmix::detail::copy_direction::host_to_device);
  return d;
}

// The forward on x's device; on a device the β copy it read is left in device_betas.
template <class T>
Tensor<T> mix_forward(const Tensor<T>& x, std::span<const double> betas,
                      [[maybe_unused]] std::shared_ptr<double>& device_betas) {
  check_mix_arguments<T>(x.shape(), betas);
  const index_t n = x.dim(0), per = n > 0 ? x.numel() / n : 0;
  const device where = ops::device_of("mix_with_reversed", {x});
  Tensor<T> out = Tensor<T>::empty(x.shape(), where);
  ops::run_on(
      "mix_with_reversed", where, [&] { ops::cpu::mix_with_reversed(x.data(), out.data(), betas.data(), n, per); },
      MODELMIX_CUDA_FLOAT(T, "mix_with_reversed", device_betas = betas_on_device(betas);
                          ops::cuda::mix_with_reversed(x.data(), out.data(), device_betas.get(), n, per)));
  return out;
}
}  // namespace detail

// Plain-tensor form, for values that need no gradient (images, targets).
template <class T>
[[nodiscard]] Tensor<T> mix_with_reversed(const Tensor<T>& x, std::span<const double> betas) {
  std::shared_ptr<double> device_betas;
  return detail::mix_forward(x, betas, device_betas);
}

template <class T>
[[nodiscard]] Var<T> mix_with_reversed(const Var<T>& x, std::span<const double> betas) {
  Tape<T>& tape = x.tape();
  std::vector<double> kept(betas.begin(), betas.end());
  std::shared_ptr<double> device_betas;  // the same β on the device (a device input)
  Tensor<T> y = detail::mix_forward(x.value(), betas, device_betas);
  return tape.record("mix_with_reversed", std::move(y), {x},
                     [&tape, x, kept = std::move(kept), device_betas = std::move(device_betas)](const Tensor<T>& g) {
                       Tensor<T>* gx = tape.grad_slot(x);
                       if (!gx) return;
                       const index_t n = g.dim(0), per = n > 0 ? g.numel() / n : 0;
                       ops::run_on(
                           "mix_with_reversed", g.where(),
                           [&] { ops::cpu::mix_with_reversed_backward(g.data(), gx->data(), kept.data(), n, per); },
                           MODELMIX_CUDA_FLOAT(T, "mix_with_reversed",
                                               ops::cuda::mix_with_reversed_backward(g.data(), gx->data(),
                                                                                     device_betas.get(), n, per)));
                     });
}

}  // namespace modelmix::losses
