#pragma once
// Softmax over axis 1 (the channels of NCHW; any rank ≥ 2, the axes after 1 are "positions").
//
//   x [N, C, ...] → y, same shape:  y[n,c,s] = exp(x[n,c,s] − m[n,s]) / Σ_c' exp(x[n,c',s] − m[n,s])
//   with m[n,s] = max_c x[n,c,s] (stability: every exponent is ≤ 0, the sum is ≥ 1).
//   ∂x[n,c,s] += y[n,c,s] · (g[n,c,s] − Σ_c' g[n,c',s]·y[n,c',s])
//
// Channel c of a sample is a contiguous block of S positions, so the loops run over positions
// in the inner loop (vectorisable) with per-position running max / sum buffers.
#include <algorithm>
#include <cmath>
#include <vector>

#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> softmax_channels(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  MODELMIX_REQUIRE(s.rank() >= 2, "softmax_channels: needs a channel axis (rank >= 2), got shape ", s);
  const index_t N = s[0], C = s[1], S = s.stride(1);
  MODELMIX_REQUIRE(C > 0, "softmax_channels: no channels in shape ", s);
  // Work is split into (sample, block of positions) tasks so batch 1 still uses every thread.
  static constexpr index_t block = 2048;
  const index_t blocks = (S + block - 1) / block, tasks = N * blocks;

  Tensor<T> y(s);
  const T* px = x.value().data();
  T* py = y.data();
#pragma omp parallel for schedule(static) if (s.numel() >= detail::parallel_min_work)
  for (index_t t = 0; t < tasks; ++t) {
    const index_t n = t / blocks, s0 = (t % blocks) * block, len = std::min(block, S - s0);
    const T* in = px + n * C * S + s0;
    T* out = py + n * C * S + s0;
    std::vector<T> m(in, in + len), sum(static_cast<std::size_t>(len), T(0));
    for (index_t c = 1; c < C; ++c)
      for (index_t i = 0; i < len; ++i) m[i] = std::max(m[i], in[c * S + i]);
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < len; ++i) sum[i] += out[c * S + i] = std::exp(in[c * S + i] - m[i]);
    for (index_t i = 0; i < len; ++i) sum[i] = T(1) / sum[i];
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < len; ++i) out[c * S + i] *= sum[i];
  }
  // Backward reads y; a copy is kept because the closure cannot name its own output node.
  Tensor<T> saved = y;
  return tape.record("softmax_channels", std::move(y), {x},
                     [&tape, x, y = std::move(saved), C, S, blocks, tasks](const Tensor<T>& g) {
                       Tensor<T>* gx = tape.grad_slot(x);
                       if (!gx) return;
                       const T *pg = g.data(), *py = y.data();
                       T* pd = gx->data();
#pragma omp parallel for schedule(static) if (g.numel() >= detail::parallel_min_work)
                       for (index_t t = 0; t < tasks; ++t) {
                         const index_t n = t / blocks, s0 = (t % blocks) * block, len = std::min(block, S - s0);
                         const index_t base = n * C * S + s0;
                         std::vector<T> dot(static_cast<std::size_t>(len), T(0));
                         for (index_t c = 0; c < C; ++c)
                           for (index_t i = 0; i < len; ++i) dot[i] += pg[base + c * S + i] * py[base + c * S + i];
                         for (index_t c = 0; c < C; ++c)
                           for (index_t i = 0; i < len; ++i)
                             pd[base + c * S + i] += py[base + c * S + i] * (pg[base + c * S + i] - dot[i]);
                       }
                     });
}

}  // namespace modelmix::ops
