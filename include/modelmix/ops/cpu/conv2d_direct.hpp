#pragma once
// Direct convolution on the CPU for stride-1 filters: no im2col, no GEMM library, one
// register-blocked micro-kernel (xsimd, so the vector width is whatever the build targets:
// 16 floats with AVX-512, 8 with AVX2) shared by fprop and dgrad.
//
//   y[n,k,p,q] = b[k] + Σ_{c,r,s} W[k,c,r,s] · xpad[n, c, p + r, q + s]
//
// A micro-tile is `tile_k` output channels × `tile_v` vectors of output pixels (of one row, or
// of consecutive rows when a row is narrower): per tap (c, r, s) it loads tile_v input vectors
// and broadcasts tile_k filter values, tile_k·tile_v FMAs into accumulators that never leave
// the registers until the tap loop ends. The filter is
// packed once per call as [channel block][c][r][s][tile_k], so the broadcasts walk memory in
// order; packing is where the mix Σ c_i·W_i is formed (fused: the mixed filter is never a
// tensor). The input is copied once per (sample, band of rows) into a zero-padded,
// cache-resident slab, so the tap loop has no bounds checks (the copy is 1× the input where
// im2col was R·S×).
//
// dgrad of a stride-1 convolution is itself one: dx = conv(dy, W'), W'[c,k,r,s] = W[k,c,R−1−r,
// S−1−s], padding R−1−pad; the same kernel runs it and accumulates into dx.
//
// fprop can rectify in the epilogue (y = max(0, …), the inference-time conv → BN → ReLU of
// ops/conv2d_bn_relu.hpp): the tile is still in registers, so the ReLU costs no pass over y.
//
// Every output element is written by exactly one tile in a fixed tap order, so results do not
// depend on the thread count. Rows narrower than a vector take ops/cpu/conv2d_direct_narrow.hpp
// (vectors along channels); strided or pointwise problems stay on the GEMM path (ops/cpu/conv2d.hpp
// picks, see `direct_conv_applies`).
#include <algorithm>
#include <cstring>
#include <memory>

// Define MODELMIX_DISABLE_DIRECT_CONV to keep every convolution on the GEMM path (e.g. to
// reproduce, bit for bit, numbers computed before the direct kernel existed).
#if __has_include(<xsimd/xsimd.hpp>) && !defined(MODELMIX_DISABLE_DIRECT_CONV)
#include <xsimd/xsimd.hpp>
#if !defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#define MODELMIX_HAS_DIRECT_CONV 1
#endif
#endif
#ifndef MODELMIX_HAS_DIRECT_CONV
#define MODELMIX_HAS_DIRECT_CONV 0
#endif

#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/conv2d_problem.hpp"
#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

#if MODELMIX_HAS_DIRECT_CONV

namespace direct {

template <class T>
using vec = xsimd::batch<T>;
template <class T>
inline constexpr index_t lanes = index_t(vec<T>::size);

// Micro-tile shape: accumulators + input vectors + one broadcast must fit the register file
// (32 vector registers with AVX-512, 16 below it).
#if XSIMD_WITH_AVX512F
inline constexpr int tile_k = 8, tile_v = 3;
#else
inline constexpr int tile_k = 4, tile_v = 3;
#endif

// Whether a tile prefetches the next input channel's rows (micro_tile): measured 1.10–1.21× per
// U-Net level with AVX-512 on Sapphire Rapids, where a tap's three 64-byte loads wait on L2;
// with AVX2 (half the bytes a tap) 0.96–1.02× on the same machine, so not there.
inline constexpr bool prefetch_next_channel = XSIMD_WITH_AVX512F;

// Where one vector of a tile reads (offset into the slab at channel 0, tap (0, 0)) and writes
// (offset into the output channel plane), and how many of its lanes are inside the row.
struct vector_slot {
  index_t x, y, valid;
};

inline void prefetch_into_l1(const void* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

// One micro-tile: tile_k output channels × V output vectors, anywhere in the band (a narrow
// image's vectors come from several rows, so every tile is whole). w: the packed filter of the
// channel block, [C][R][S][tile_k].
template <class T, int V>
inline void micro_tile(const T* slab, index_t c_stride, index_t row_stride, const vector_slot (&slot)[V], const T* w,
                       index_t C, index_t R, index_t S, vec<T> (&acc)[tile_k][V]) {
  for (index_t c = 0; c < C; ++c) {
    // The next channel's rows into L1 while this one's taps run: the tile's loads jump between
    // rows and channels, a pattern the hardware prefetchers do not follow, and waiting on L2 for
    // them held the AVX-512 kernel at 60–75 % of the FMA peak.
    if (prefetch_next_channel && c + 1 < C)
      for (index_t r = 0; r < R; ++r)
        for (int j = 0; j < V; ++j) {
          const T* next = slab + (c + 1) * c_stride + r * row_stride + slot[j].x;
          prefetch_into_l1(next);
          prefetch_into_l1(next + lanes<T> + S - 2);  // the last value its last tap reads
        }
    for (index_t r = 0; r < R; ++r) {
      const T* xr = slab + c * c_stride + r * row_stride;
      for (index_t s = 0; s < S; ++s, w += tile_k) {
        vec<T> xv[V];
        for (int j = 0; j < V; ++j) xv[j] = vec<T>::load_unaligned(xr + slot[j].x + s);
        for (int k = 0; k < tile_k; ++k) {
          const vec<T> wk(w[k]);
          for (int j = 0; j < V; ++j) acc[k][j] = xsimd::fma(wk, xv[j], acc[k][j]);
        }
      }
    }
  }
}

// The problem as the kernel sees it: output rows/columns, input channels, and the slab layout.
struct plan {
  index_t N, C, K, R, S, pad_h, pad_w, H, W, P, Q;
  index_t vectors;    // ⌈Q / lanes⌉
  index_t slab_w;     // padded row length: every vector load of every tap stays inside
  index_t band;       // output rows per (sample, band) task
  index_t k_blocks;   // ⌈K / tile_k⌉
};

template <class T>
plan make_plan(const conv2d_problem& pb) {
  plan p{pb.N, pb.C, pb.K, pb.R, pb.S, pb.pad_h, pb.pad_w, pb.H, pb.W, pb.P(), pb.Q(), 0, 0, 0, 0};
  p.vectors = (p.Q + lanes<T> - 1) / lanes<T>;
  p.slab_w = p.vectors * lanes<T> + p.S - 1;
  // A band's slab (C × (band + R − 1) rows) near 256 KiB keeps it in L2 while every channel
  // block sweeps it; and the batch splits into at least 4 tasks per thread, so the threads
  // share small batches evenly.
  const index_t row_bytes = p.C * p.slab_w * index_t(sizeof(T));
  const index_t fit = std::max<index_t>(1, (index_t(256) << 10) / std::max<index_t>(1, row_bytes) - (p.R - 1));
  const index_t bands_wanted = (4 * index_t(max_threads()) + p.N - 1) / p.N;
  p.band = std::clamp<index_t>(std::min(fit, (p.P + bands_wanted - 1) / bands_wanted), 1, p.P);
  p.k_blocks = (p.K + tile_k - 1) / tile_k;
  return p;
}

// Rows [row0, row0 + rows) of sample x_n [C, H, W] padded (row i is image row row0 + i − pad_h),
// as the slab [C][rows][slab_w]: zeros outside the image and past the last vector.
template <class T>
void fill_slab(const plan& p, const T* x_n, index_t row0, index_t rows, T* slab) {
  for (index_t c = 0; c < p.C; ++c)
    for (index_t i = 0; i < rows; ++i) {
      T* dst = slab + (c * rows + i) * p.slab_w;
      const index_t h = row0 + i - p.pad_h;
      if (h < 0 || h >= p.H) {
        std::fill(dst, dst + p.slab_w, T(0));
        continue;
      }
      const index_t copy = std::min(p.W, p.slab_w - p.pad_w);
      std::fill(dst, dst + p.pad_w, T(0));
      std::memcpy(dst + p.pad_w, x_n + (c * p.H + h) * p.W, sizeof(T) * std::size_t(copy));
      std::fill(dst + p.pad_w + copy, dst + p.slab_w, T(0));
    }
}

// A vector of `valid` ≤ lanes values at y, through a stack buffer when it is cut by the row end.
template <class T>
vec<T> load_part(const T* y, index_t valid) {
  if (valid == lanes<T>) return vec<T>::load_unaligned(y);
  alignas(64) T buf[lanes<T>] = {};
  std::memcpy(buf, y, sizeof(T) * std::size_t(valid));
  return vec<T>::load_aligned(buf);
}
template <class T>
void store_part(const vec<T>& v, T* y, index_t valid) {
  if (valid == lanes<T>) return v.store_unaligned(y);
  alignas(64) T buf[lanes<T>];
  v.store_aligned(buf);
  std::memcpy(y, buf, sizeof(T) * std::size_t(valid));
}

// Output vectors [first, first + V) of a band (numbered row by row, `p.vectors` per row) for
// channels [k0, k0 + tile_k) ∩ [0, K). y: the sample's output; slab: the band's, from row p0.
template <class T, int V>
void tile(const plan& p, const T* slab, index_t slab_rows, index_t p0, index_t first, const T* w, const T* bias,
          bool accumulate, bool relu, T* y, index_t k0) {
  vector_slot slot[V];
  for (int j = 0; j < V; ++j) {
    const index_t row = (first + j) / p.vectors, q = (first + j) % p.vectors * lanes<T>;
    slot[j] = {row * p.slab_w + q, (p0 + row) * p.Q + q, std::min(lanes<T>, p.Q - q)};
  }
  const index_t k_valid = std::min<index_t>(tile_k, p.K - k0), plane = p.P * p.Q;
  T* y_k0 = y + k0 * plane;
  vec<T> acc[tile_k][V];
  for (int k = 0; k < tile_k; ++k)
    for (int j = 0; j < V; ++j) {
      if (k >= k_valid) acc[k][j] = vec<T>(T(0));
      else if (accumulate) acc[k][j] = load_part(y_k0 + k * plane + slot[j].y, slot[j].valid);
      else acc[k][j] = vec<T>(bias ? bias[k0 + k] : T(0));
    }
  micro_tile<T, V>(slab, slab_rows * p.slab_w, p.slab_w, slot, w, p.C, p.R, p.S, acc);
  if (relu)
    for (int k = 0; k < tile_k; ++k)
      for (int j = 0; j < V; ++j) acc[k][j] = xsimd::max(acc[k][j], vec<T>(T(0)));
  for (index_t k = 0; k < k_valid; ++k)
    for (int j = 0; j < V; ++j) store_part(acc[k][j], y_k0 + k * plane + slot[j].y, slot[j].valid);
}

// y (or y +=) = conv(x, packed filter) + bias over the whole batch, rectified when `relu`.
// packed: [k_blocks][C][R][S][tile_k].
template <class T>
void convolve(const plan& p, const T* x, const T* packed, const T* bias, bool accumulate, bool relu, T* y,
              bool threads) {
  const index_t bands = (p.P + p.band - 1) / p.band;
  const index_t slab_rows_max = p.band + p.R - 1;
  const index_t filter_block = p.C * p.R * p.S * tile_k;
  static_assert(tile_v == 3, "the tail below splits a remainder of 1 as 3 + 1 → 2 + 2");
#pragma omp parallel if (threads)
  {
    std::unique_ptr<T[]> slab(new T[std::size_t(p.C * slab_rows_max * p.slab_w)]);
#pragma omp for schedule(dynamic)
    for (index_t task = 0; task < p.N * bands; ++task) {
      const index_t n = task / bands, p0 = (task % bands) * p.band, p1 = std::min(p.P, p0 + p.band);
      const index_t rows = p1 - p0 + p.R - 1, vectors = (p1 - p0) * p.vectors;
      fill_slab(p, x + n * p.C * p.H * p.W, p0, rows, slab.get());
      T* y_n = y + n * p.K * p.P * p.Q;
      for (index_t kb = 0; kb < p.k_blocks; ++kb) {
        const T* w = packed + kb * filter_block;
        // Full tiles, then the rest in tiles of 2 — a remainder of 1 after a full tile as 2 + 2:
        // a 1-vector tile has only tile_k accumulator chains, too few to cover the FMA latency
        // (4 cycles × 2 pipes), and ran at half speed (~3 % of a width-32 step on AVX2).
        // The tile shape does not change any output's tap order, so the results stay the same.
        const index_t rest = vectors % tile_v == 1 && vectors > tile_v ? tile_v + 1 : vectors % tile_v;
        const index_t full = vectors - rest;
        index_t v = 0;
        for (; v < full; v += tile_v)
          tile<T, tile_v>(p, slab.get(), rows, p0, v, w, bias, accumulate, relu, y_n, kb * tile_k);
        for (; v + 2 <= vectors; v += 2)
          tile<T, 2>(p, slab.get(), rows, p0, v, w, bias, accumulate, relu, y_n, kb * tile_k);
        if (v < vectors) tile<T, 1>(p, slab.get(), rows, p0, v, w, bias, accumulate, relu, y_n, kb * tile_k);
      }
    }
  }
}

// Room for a packed filter, not zeroed: each packer zeroes its blocks (channels past K in the
// last block stay zero), then adds every term in term order. Packing runs once per call on the
// whole filter (MBs for deep layers), so it is spread over the threads by channel block: on one
// thread it was ~1.4 % of a width-32 step's profile, with the other thread idle all along.
// `width`: output channels per block (tile_k here; the narrow kernel packs whole vectors).
template <class T>
std::unique_ptr<T[]> packed_buffer(index_t k_blocks, index_t C, index_t R, index_t S, index_t width) {
  return std::unique_ptr<T[]>(new T[std::size_t(k_blocks * C * R * S * width)]);
}

// Mixed filter Σ c_i·W_i as fprop reads it: packed[kb][c][r][s][k − kb·width] = W[k,c,r,s].
template <class T, index_t width = tile_k>
std::unique_ptr<T[]> pack_fprop(const conv2d_problem& pb, const mixing::spec<T>& spec, bool threads) {
  const index_t kbs = (pb.K + width - 1) / width, CRS = pb.gemm_k();
  auto out = packed_buffer<T>(kbs, pb.C, pb.R, pb.S, width);
#pragma omp parallel for schedule(static) if (threads)
  for (index_t kb = 0; kb < kbs; ++kb) {
    T* block = out.get() + kb * CRS * width;
    std::fill(block, block + CRS * width, T(0));
    // A chunk of filter positions at a time, so the chunk's rows of the block stay in L1 while
    // each channel writes its column (a whole column at a time touched a new cache line per
    // value); bounds in locals, or the compiler reloads them after every store.
    constexpr index_t chunk = 64;
    const index_t k0 = kb * width, k1 = std::min(pb.K, k0 + width);
    for (const mixing::term<T>& t : spec.terms) {
      const T coeff = t.coeff;
      for (index_t i0 = 0; i0 < CRS; i0 += chunk) {
        const index_t i1 = std::min(CRS, i0 + chunk);
        for (index_t k = k0; k < k1; ++k) {
          const T* __restrict src = t.weight + k * CRS;
          T* __restrict dst = block + (k - k0);
          for (index_t i = i0; i < i1; ++i) dst[i * width] = mixing::accumulate(dst[i * width], coeff, src[i]);
        }
      }
    }
  }
  return out;
}

// The dgrad filter W'[c,k,r,s] = W[k,c,R−1−r,S−1−s], mixed and packed over blocks of c.
template <class T, index_t width = tile_k>
std::unique_ptr<T[]> pack_dgrad(const conv2d_problem& pb, const mixing::spec<T>& spec, bool threads) {
  const index_t cbs = (pb.C + width - 1) / width, RS = pb.R * pb.S;
  auto out = packed_buffer<T>(cbs, pb.K, pb.R, pb.S, width);
#pragma omp parallel for schedule(static) if (threads)
  for (index_t cb = 0; cb < cbs; ++cb) {
    T* block = out.get() + cb * pb.K * RS * width;
    std::fill(block, block + pb.K * RS * width, T(0));
    // Per output channel k, a small transpose (its block's [c][rs] → [rs][c]); written along c,
    // with bounds in locals (the compiler reloads members after every store otherwise).
    const index_t K = pb.K, C = pb.C, c0 = cb * width, cs = std::min(C, c0 + width) - c0;
    for (const mixing::term<T>& t : spec.terms) {
      const T coeff = t.coeff;
      for (index_t k = 0; k < K; ++k) {
        const T* __restrict src = t.weight + (k * C + c0) * RS;
        T* __restrict dst = block + k * RS * width;
        for (index_t rs = 0; rs < RS; ++rs)
          for (index_t j = 0; j < cs; ++j)
            dst[rs * width + j] = mixing::accumulate(dst[rs * width + j], coeff, src[j * RS + RS - 1 - rs]);
      }
    }
  }
  return out;
}

// Σ c_i·b_i, or null when the spec has no bias.
template <class T>
std::unique_ptr<T[]> mixed_bias(const conv2d_problem& pb, const mixing::spec<T>& spec) {
  if (!spec.has_bias()) return nullptr;
  std::unique_ptr<T[]> bias(new T[std::size_t(pb.K)]);
  mixing::weighted_sum(bias.get(), pb.K, spec, &mixing::term<T>::bias);
  return bias;
}

// dgrad of a stride-1 convolution as the convolution it is: dy (K channels, P × Q) in, dx out,
// padding R − 1 − pad.
inline conv2d_problem dgrad_problem(const conv2d_problem& pb) {
  return {pb.N, pb.K, pb.P(), pb.Q(), pb.C, pb.R, pb.S, pb.R - 1 - pb.pad_h, pb.S - 1 - pb.pad_w, 1, 1};
}

}  // namespace direct

// The problems the direct kernel takes: stride 1 (dgrad is then a convolution too), padding
// inside the filter, not pointwise (a 1×1 filter is a plain GEMM), and rows at least one vector
// wide — narrower rows (the deepest layers under AVX-512) would leave lanes idle.
template <class T>
bool direct_conv_applies(const conv2d_problem& pb) {
  return pb.stride_h == 1 && pb.stride_w == 1 && pb.pad_h < pb.R && pb.pad_w < pb.S && pb.R * pb.S > 1 &&
         pb.Q() >= direct::lanes<T> && pb.W >= direct::lanes<T>;
}

// y = conv(x, Σ c_i·W_i) + Σ c_i·b_i, then max(0, y) when `relu`.
template <class T>
void conv2d_direct_fprop(const conv2d_problem& pb, const T* x, T* y, const mixing::spec<T>& spec, bool threads,
                         bool relu = false) {
  const auto packed = direct::pack_fprop(pb, spec, threads);
  const auto bias = direct::mixed_bias(pb, spec);
  direct::convolve(direct::make_plan<T>(pb), x, packed.get(), bias.get(), false, relu, y, threads);
}

// dx += conv(dy, W') with W' the flipped, transposed Σ c_i·W_i (dx = … when `assign`).
template <class T>
void conv2d_direct_dgrad(const conv2d_problem& pb, const T* dy, T* dx, const mixing::spec<T>& spec, bool threads,
                         bool assign = false) {
  const auto packed = direct::pack_dgrad(pb, spec, threads);
  direct::convolve(direct::make_plan<T>(direct::dgrad_problem(pb)), dy, packed.get(), static_cast<const T*>(nullptr),
                   !assign, false, dx, threads);
}

#endif  // MODELMIX_HAS_DIRECT_CONV

}  // namespace modelmix::ops::cpu
