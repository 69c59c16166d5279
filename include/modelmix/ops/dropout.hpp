#pragma once
// Inverted dropout, any shape.
//
//   y_i = x_i · m_i / (1 − p)      m_i = [u_i ≥ p],  u_i = hash(seed, i) ∈ [0, 1)
//   ∂x_i += g_i · m_i / (1 − p)
//
// The mask is a pure function of (seed, flat element index) — a counter-based hash, no RNG
// state — so it is the same whatever the thread count, and backward recomputes it instead of
// storing it. The caller chooses the seed; use a different one per layer and per step (e.g.
// hash a step counter with the layer index), or the same units drop every time.
// Identity (the input Var itself, no copy) when !training or p == 0. On a CUDA device the kernel
// (ops/cuda/dropout.hpp) hashes the same (seed, index): the same units drop as on the CPU.
#include <cmath>
#include <cstdint>

#include "modelmix/core/hash.hpp"
#include "modelmix/ops/cpu/dropout.hpp"
#include "modelmix/ops/cuda/dropout.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

namespace detail {
using modelmix::splitmix64;  // core/hash.hpp
// Element i survives iff its 53-bit hash is ≥ ⌈p·2^53⌉, i.e. u = hash·2^−53 ≥ p
// (ops/dropout_mask.hpp).
inline std::uint64_t dropout_threshold(double p) { return static_cast<std::uint64_t>(std::ceil(p * 0x1.0p53)); }
}  // namespace detail

// The uniform number u ∈ [0, 1) for element `index` under `seed`: splitmix64(splitmix64(seed) + index),
// top 53 bits. Hashing the seed first makes nearby seeds give unrelated masks.
inline double dropout_uniform(std::uint64_t seed, std::uint64_t index) {
  return double(detail::splitmix64(detail::splitmix64(seed) + index) >> 11) * 0x1.0p-53;
}

// Whether element `index` survives dropout with drop probability p (u ≥ p).
inline bool dropout_keep(std::uint64_t seed, std::uint64_t index, double p) { return dropout_uniform(seed, index) >= p; }

template <class T>
Var<T> dropout(const Var<T>& x, std::type_identity_t<T> p, std::uint64_t seed, bool training) {
  MODELMIX_REQUIRE(p >= T(0) && p < T(1), "dropout: drop probability p must be in [0, 1), got ", p);
  if (!training || p == T(0)) return x;
  Tape<T>& tape = x.tape();
  const T keep_scale = T(1) / (T(1) - p);
  const std::uint64_t seed_hash = detail::splitmix64(seed), threshold = detail::dropout_threshold(double(p));
  // y = x · m · scale; the same expression serves backward with g in place of x.
  const device where = device_of("dropout", {x.value()});
  Tensor<T> y = Tensor<T>::empty(x.shape(), where);
  run_on(
      "dropout", where,
      [&] { cpu::dropout_apply(x.value().data(), y.data(), false, y.numel(), keep_scale, seed_hash, threshold); },
      MODELMIX_CUDA_FLOAT(T, "dropout",
                          cuda::dropout_apply(x.value().data(), y.data(), false, y.numel(), keep_scale, seed_hash,
                                              threshold)));
  return tape.record("dropout", std::move(y), {x}, [&tape, x, keep_scale, seed_hash, threshold](const Tensor<T>& g) {
    if (const gradient_sink<T> gx = tape.grad_target(x))
      run_on(
          "dropout", g.where(),
          [&] { cpu::dropout_apply(g.data(), gx.slot->data(), !gx.assign, g.numel(), keep_scale, seed_hash, threshold); },
          MODELMIX_CUDA_FLOAT(T, "dropout",
                              cuda::dropout_apply(g.data(), gx.slot->data(), !gx.assign, g.numel(), keep_scale,
                                                  seed_hash, threshold)));
  });
}

}  // namespace modelmix::ops
