#pragma once
// fprop and dgrad of stride-1 convolutions on images narrower than a vector: the U-Net's
// deepest levels (8×8 and 4×4 pixels, hundreds of channels) under AVX-512's 16 floats.
// ops/cpu/conv2d_direct.hpp runs its vectors along output rows, which would leave half the
// lanes idle here; this kernel turns the tile on its side and runs them along output channels:
//
//   y[n,k,p,q] = b[k] + Σ_{c,r,s} W[k,c,r,s] · xpad[n, c, p + r, q + s]
//   tile: narrow_pixels consecutive output pixels of one sample × narrow_kv vectors of k;
//   per (c, r, s): narrow_kv filter vectors, and one broadcast input value per pixel.
//
// The input values are broadcast, so the input needs no channel-blocked copy, only a padded
// slab, here one per filter column shifted so that a tile's pixels read consecutive values
// (narrow_slab); the outputs are scattered from the tile (one store per output, beside C·R·S
// FMAs). Each output sums its bias, then c, r, s in order: the direct kernel's order, and no
// dependence on the thread count. Before it, these layers took the GEMM path, whose per-sample
// GEMMs were 64 columns wide and repacked the whole filter for each: 0.5× oneDNN's speed at
// 8×8 with 512 channels on Sapphire Rapids (docs/benchmarks.md).
#include <algorithm>
#include <memory>

#include "modelmix/ops/cpu/conv2d_direct.hpp"

namespace modelmix::ops::cpu {

#if MODELMIX_HAS_DIRECT_CONV

namespace direct {

// Tile shape: narrow_kv · narrow_pixels accumulators, narrow_kv filter vectors and a broadcast
// in registers. AVX-512: 8 pixels × 2 vectors, 10 loads per 16 FMAs, and an 8×8 sample splits
// into whole tiles (12 pixels measured alike, with every sample's last tile cut). AVX2's 16
// registers: 6 pixels (12 accumulators).
inline constexpr int narrow_kv = 2;
inline constexpr int narrow_pixels = XSIMD_WITH_AVX512F ? 8 : 6;
template <class T>
inline constexpr index_t narrow_width = narrow_kv * lanes<T>;  // output channels per block

// acc[i][j] += Σ_{c,r,s} w[c][r][s][vector j] · x_s[c][r·Q + i] over the tile's V consecutive
// pixels, x_s: the tile's view of the slab shifted by s (row stride Q: pixel i + tap (r, s)
// sits at r·Q + i). w: the channel block's packed filter.
template <class T, int V>
inline void narrow_micro_tile(const T* x, index_t s_stride, index_t c_stride, index_t Q, const T* w, index_t C,
                              index_t R, index_t S, vec<T> (&acc)[V][narrow_kv]) {
  for (index_t c = 0; c < C; ++c)
    for (index_t r = 0; r < R; ++r) {
      const T* xr = x + c * c_stride + r * Q;
      for (index_t s = 0; s < S; ++s, w += narrow_width<T>) {
        const T* xs = xr + s * s_stride;
        // As in the direct kernel: the next channel's values, and the filter a few taps ahead,
        // into L1 (measured 1.10× on an 8×8 layer with AVX-512).
        if (prefetch_next_channel) {
          prefetch_into_l1(xs + c_stride);
          prefetch_into_l1(xs + c_stride + V - 1);
          for (int j = 0; j < narrow_kv; ++j) prefetch_into_l1(w + 8 * narrow_width<T> + j * lanes<T>);
        }
        vec<T> wv[narrow_kv];
        for (int j = 0; j < narrow_kv; ++j) wv[j] = vec<T>::load_unaligned(w + j * lanes<T>);
        for (int i = 0; i < V; ++i) {
          const vec<T> xv(xs[i]);
          for (int j = 0; j < narrow_kv; ++j) acc[i][j] = xsimd::fma(wv[j], xv, acc[i][j]);
        }
      }
    }
}

// The slab of the narrow kernel: for each filter column s, every sample's padded rows shifted
// left by s and cut to Q values, [S][N][C][P + R − 1][Q]. A tile's V consecutive output pixels
// then read V consecutive values for every tap (fixed offsets: no per-pixel address registers,
// which spilled when the pixels were gathered from the padded rows). ([N][C][S][…], a channel's
// copies side by side, measured 0.96× at 8×8.)
template <class T>
struct narrow_slab {
  index_t rows, c_stride, sample, s_stride;
  std::unique_ptr<T[]> data;

  narrow_slab(const plan& p, const T* x, bool threads)
      : rows(p.P + p.R - 1), c_stride(rows * p.Q), sample(p.C * c_stride), s_stride(p.N * sample),
        // the last tile of the batch reads up to V − 1 values past the end (computed, not stored)
        data(new T[std::size_t(p.S * s_stride + narrow_pixels)]) {
    std::fill_n(data.get() + p.S * s_stride, narrow_pixels, T(0));
#pragma omp parallel for collapse(2) schedule(static) if (threads)
    for (index_t s = 0; s < p.S; ++s)
      for (index_t n = 0; n < p.N; ++n)
        for (index_t c = 0; c < p.C; ++c)
          for (index_t i = 0; i < rows; ++i) {
            T* dst = data.get() + s * s_stride + n * sample + c * c_stride + i * p.Q;
            const index_t h = i - p.pad_h;
            if (h < 0 || h >= p.H) {
              std::fill_n(dst, p.Q, T(0));
              continue;
            }
            const T* src = x + ((n * p.C + c) * p.H + h) * p.W;
            for (index_t q = 0; q < p.Q; ++q) {
              const index_t w = q + s - p.pad_w;
              dst[q] = w >= 0 && w < p.W ? src[w] : T(0);
            }
          }
  }
};

// Output pixels [first, first + V) ∩ [0, P·Q) of sample n, channel block kb.
template <class T>
void narrow_tile(const plan& p, const narrow_slab<T>& slab, index_t n, index_t first, const T* w, const T* bias,
                 bool accumulate, bool relu, T* y, index_t kb) {
  constexpr int V = narrow_pixels;
  const index_t PQ = p.P * p.Q, valid = std::min<index_t>(V, PQ - first);
  const index_t k0 = kb * narrow_width<T>, k_valid = std::min(narrow_width<T>, p.K - k0);
  T* y_tile = y + n * p.K * PQ + k0 * PQ + first;
  alignas(64) T lane[narrow_width<T>];
  vec<T> acc[V][narrow_kv];
  for (int i = 0; i < V; ++i) {
    for (index_t k = 0; k < narrow_width<T>; ++k)
      lane[k] = k >= k_valid || i >= valid ? T(0) : accumulate ? y_tile[k * PQ + i] : bias ? bias[k0 + k] : T(0);
    for (int j = 0; j < narrow_kv; ++j) acc[i][j] = vec<T>::load_aligned(lane + j * lanes<T>);
  }
  narrow_micro_tile<T, V>(slab.data.get() + n * slab.sample + first, slab.s_stride, slab.c_stride, p.Q, w, p.C, p.R,
                          p.S, acc);
  for (index_t i = 0; i < valid; ++i) {
    for (int j = 0; j < narrow_kv; ++j) {
      vec<T> v = acc[i][j];
      if (relu) v = xsimd::max(v, vec<T>(T(0)));
      v.store_aligned(lane + j * lanes<T>);
    }
    for (index_t k = 0; k < k_valid; ++k) y_tile[k * PQ + i] = lane[k];
  }
}

// y (or y +=) = conv(x, packed filter) + bias over the whole batch, rectified when `relu`.
// packed: [K / narrow_width][C][R][S][narrow_width] (pack_fprop / pack_dgrad with that width).
template <class T>
void convolve_narrow(const conv2d_problem& pb, const T* x, const T* packed, const T* bias, bool accumulate, bool relu,
                     T* y, bool threads) {
  // (vectors, slab_w and band are the direct kernel's; narrow_slab has its own layout)
  const plan p{pb.N, pb.C, pb.K, pb.R, pb.S, pb.pad_h, pb.pad_w, pb.H, pb.W, pb.P(), pb.Q(), 1, pb.Q(), pb.P(),
               (pb.K + narrow_width<T> - 1) / narrow_width<T>};
  const narrow_slab<T> slab(p, x, threads);
  const index_t tiles = (p.P * p.Q + narrow_pixels - 1) / narrow_pixels, per_block = p.N * tiles;
  const index_t filter_block = p.C * p.R * p.S * narrow_width<T>;
  // A thread's tasks are consecutive: one channel block's filter (from L2) serves many tiles.
#pragma omp parallel for schedule(static) if (threads)
  for (index_t task = 0; task < p.k_blocks * per_block; ++task) {
    const index_t kb = task / per_block, n = task % per_block / tiles, tile = task % tiles;
    narrow_tile(p, slab, n, tile * narrow_pixels, packed + kb * filter_block, bias, accumulate, relu, y, kb);
  }
}

}  // namespace direct

// The problems the narrow kernel takes: the direct kernel's (stride 1, padding inside the
// filter, not pointwise) with rows narrower than a vector, in and out, and at least a vector
// of channels in and out (fewer would leave lanes idle; such layers stay on the GEMM path).
template <class T>
bool narrow_conv_applies(const conv2d_problem& pb) {
  using direct::lanes;
  return pb.stride_h == 1 && pb.stride_w == 1 && pb.pad_h < pb.R && pb.pad_w < pb.S && pb.R * pb.S > 1 &&
         pb.Q() < lanes<T> && pb.W < lanes<T> && pb.K >= lanes<T> && pb.C >= lanes<T>;
}

// y = conv(x, Σ c_i·W_i) + Σ c_i·b_i, then max(0, y) when `relu`.
template <class T>
void conv2d_narrow_fprop(const conv2d_problem& pb, const T* x, T* y, const mixing::spec<T>& spec, bool threads,
                         bool relu = false) {
  const auto packed = direct::pack_fprop<T, direct::narrow_width<T>>(pb, spec, threads);
  const auto bias = direct::mixed_bias(pb, spec);
  direct::convolve_narrow(pb, x, packed.get(), bias.get(), false, relu, y, threads);
}

// dx += conv(dy, W') with W' the flipped, transposed Σ c_i·W_i (dx = … when `assign`).
template <class T>
void conv2d_narrow_dgrad(const conv2d_problem& pb, const T* dy, T* dx, const mixing::spec<T>& spec, bool threads,
                         bool assign = false) {
  const auto packed = direct::pack_dgrad<T, direct::narrow_width<T>>(pb, spec, threads);
  direct::convolve_narrow(direct::dgrad_problem(pb), dy, packed.get(), static_cast<const T*>(nullptr), !assign, false,
                          dx, threads);
}

#endif  // MODELMIX_HAS_DIRECT_CONV

}  // namespace modelmix::ops::cpu
