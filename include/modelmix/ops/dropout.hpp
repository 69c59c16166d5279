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
// Identity (the input Var itself, no copy) when !training or p == 0.
#include "modelmix/core/hash.hpp"
#include <cmath>
#include <cstdint>

#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

namespace detail {
using modelmix::splitmix64;  // core/hash.hpp
// Element i survives iff its 53-bit hash is ≥ ⌈p·2^53⌉, i.e. u = hash·2^−53 ≥ p.
inline std::uint64_t dropout_threshold(double p) { return static_cast<std::uint64_t>(std::ceil(p * 0x1.0p53)); }
inline bool dropout_keep_hashed(std::uint64_t seed_hash, std::uint64_t index, std::uint64_t threshold) {
  return (splitmix64(seed_hash + index) >> 11) >= threshold;
}
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
  auto apply = [=](const T* in, T* out, bool accumulate, index_t n) {
    detail::parallel_chunks(n, [=](index_t i0, index_t i1) {
      for (index_t i = i0; i < i1; ++i) {
        const T scaled = in[i] * keep_scale;  // unconditional: a select, not an unpredictable branch
        const T v = detail::dropout_keep_hashed(seed_hash, std::uint64_t(i), threshold) ? scaled : T(0);
        if (accumulate)
          out[i] += v;
        else
          out[i] = v;
      }
    });
  };
  Tensor<T> y(x.shape());
  apply(x.value().data(), y.data(), false, y.numel());
  return tape.record("dropout", std::move(y), {x}, [&tape, x, apply](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x)) apply(g.data(), gx->data(), true, g.numel());
  });
}

}  // namespace modelmix::ops
