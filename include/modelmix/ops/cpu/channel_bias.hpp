#pragma once
// CPU loops of ops::add_channel_bias (ops/channel_bias.hpp).
#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// y[n,c,i] = x[n,c,i] + b[c] for x, y [N, C, HW], b [C].
template <class T>
void add_channel_bias(const T* px, const T* pb, T* py, index_t N, index_t C, index_t HW) {
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c) {
      const T* in = px + (n * C + c) * HW;
      T* out = py + (n * C + c) * HW;
      for (index_t i = 0; i < HW; ++i) out[i] = in[i] + pb[c];
    }
}

// ∂b[c] += Σ_{n,i} g[n,c,i], summed per (n, c) plane first, in T.
template <class T>
void add_channel_bias_backward_bias(const T* g, T* gb, index_t N, index_t C, index_t HW) {
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c) {
      const T* pg = g + (n * C + c) * HW;
      T sum = 0;
      for (index_t i = 0; i < HW; ++i) sum += pg[i];
      gb[c] += sum;
    }
}

}  // namespace modelmix::ops::cpu
