#pragma once
// CPU loops of ops::concat_channels (ops/concat.hpp).
#include <algorithm>
#include <cstddef>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// Sample n of y is the blocks xs[0][n], xs[1][n], ..., xs[count−1][n] laid end to end;
// block[k] elements per sample of xs[k], out_block = Σ_k block[k] per sample of y.
template <class T>
void concat_channels(const T* const* xs, const index_t* block, std::size_t count, T* y, index_t N, index_t out_block) {
  for (index_t n = 0; n < N; ++n) {
    T* out = y + n * out_block;
    for (std::size_t k = 0; k < count; ++k) {
      const T* in = xs[k] + n * block[k];
      out = std::copy(in, in + block[k], out);
    }
  }
}

// dst[n, i] += g[n, offset + i] for the block of one input (block elements per sample).
template <class T>
void concat_channels_backward(const T* g, T* dst, index_t N, index_t out_block, index_t offset, index_t block,
                              bool assign = false) {
  for (index_t n = 0; n < N; ++n) {
    const T* src = g + n * out_block + offset;
    T* d = dst + n * block;
    if (assign)
      std::copy(src, src + block, d);
    else
      for (index_t i = 0; i < block; ++i) d[i] += src[i];
  }
}

}  // namespace modelmix::ops::cpu
