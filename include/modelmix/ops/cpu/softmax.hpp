#pragma once
// CPU loops of ops::softmax_channels (ops/softmax.hpp).
#include <algorithm>
#include <cmath>
#include <vector>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// Work is split into (sample, block of positions) tasks so batch 1 still uses every thread.
inline constexpr index_t softmax_block = 2048;

// y[n,c,s] = exp(x[n,c,s] − m[n,s]) / Σ_c' exp(x[n,c',s] − m[n,s]) for x, y [N, C, S].
template <class T>
void softmax_channels(const T* px, T* py, index_t N, index_t C, index_t S) {
  static constexpr index_t block = softmax_block;
  const index_t blocks = (S + block - 1) / block, tasks = N * blocks;
#pragma omp parallel for schedule(static) if (N * C * S >= parallel_min_work)
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
}

// pd[n,c,s] += y[n,c,s] · (g[n,c,s] − Σ_c' g[n,c',s]·y[n,c',s])
template <class T>
void softmax_channels_backward(const T* pg, const T* py, T* pd, index_t N, index_t C, index_t S, bool assign = false) {
  static constexpr index_t block = softmax_block;
  const index_t blocks = (S + block - 1) / block, tasks = N * blocks;
#pragma omp parallel for schedule(static) if (N * C * S >= parallel_min_work)
  for (index_t t = 0; t < tasks; ++t) {
    const index_t n = t / blocks, s0 = (t % blocks) * block, len = std::min(block, S - s0);
    const index_t base = n * C * S + s0;
    std::vector<T> dot(static_cast<std::size_t>(len), T(0));
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < len; ++i) dot[i] += pg[base + c * S + i] * py[base + c * S + i];
    for (index_t c = 0; c < C; ++c)
      for (index_t i = 0; i < len; ++i) {
        const T d = py[base + c * S + i] * (pg[base + c * S + i] - dot[i]);
        pd[base + c * S + i] = assign ? d : pd[base + c * S + i] + d;
      }
  }
}

}  // namespace modelmix::ops::cpu
