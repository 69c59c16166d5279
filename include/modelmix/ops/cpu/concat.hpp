#pragma once
// CPU loops of ops::concat_channels (ops/concat.hpp). Both directions are copies as large as the
// activations (8 MB a sample batch at the first level of a width-32 U-Net), so they run in
// parallel chunks: two cores copy faster than one, and the other thread would only wait.
#include <algorithm>
#include <cstddef>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// Sample n of y is the blocks xs[0][n], xs[1][n], ..., xs[count−1][n] laid end to end;
// block[k] elements per sample of xs[k], out_block = Σ_k block[k] per sample of y.
template <class T>
void concat_channels(const T* const* xs, const index_t* block, std::size_t count, T* y, index_t N, index_t out_block) {
  parallel_chunks(N * out_block, [&](index_t begin, index_t end) {
    // Walk [begin, end) of y as runs inside one input block of one sample.
    index_t n = begin / out_block, at = begin % out_block, k_start = 0;
    std::size_t k = 0;
    while (k_start + block[k] <= at) k_start += block[k++];
    for (index_t pos = begin; pos < end;) {
      const index_t run = std::min(end - pos, k_start + block[k] - at);
      const T* in = xs[k] + n * block[k] + (at - k_start);
      std::copy(in, in + run, y + pos);
      pos += run, at += run;
      if (at == k_start + block[k]) {  // the next input's block, or the next sample's first
        k_start += block[k];
        if (++k == count) k = 0, k_start = 0, at = 0, ++n;
      }
    }
  });
}

// dst[n, i] += g[n, offset + i] for the block of one input (block elements per sample).
template <class T>
void concat_channels_backward(const T* g, T* dst, index_t N, index_t out_block, index_t offset, index_t block,
                              bool assign = false) {
  parallel_chunks(N * block, [&](index_t begin, index_t end) {
    for (index_t pos = begin; pos < end;) {
      const index_t n = pos / block, i = pos % block, run = std::min(end - pos, block - i);
      const T* src = g + n * out_block + offset + i;
      T* d = dst + pos;
      if (assign)
        std::copy(src, src + run, d);
      else
        for (index_t j = 0; j < run; ++j) d[j] += src[j];
      pos += run;
    }
  });
}

}  // namespace modelmix::ops::cpu
