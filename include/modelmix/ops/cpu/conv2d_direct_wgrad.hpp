#pragma once
// The weight gradient of a stride-1 3×3 convolution without im2col and without a GEMM
// library's repacking (the companion of ops/cpu/conv2d_direct.hpp's fprop/dgrad kernel).
//
//   dW[k,c,r,s] = Σ_{n,p,q} dy[n,k,p,q] · xpad[n, c, p + r, q + s]        db[k] = Σ dy[n,k,p,q]
//
// An outer product per output pixel: the micro-tile holds `tile_kv` vectors of output channels
// × the taps of one input channel (all 9, or a group of them when registers are few) in
// registers; per pixel it loads tile_kv vectors of dy (from dy transposed per band into
// [channel block][pixel][channel], so a tile's channels are contiguous) and broadcasts the input
// values the taps read (straight from the zero-padded slab: the im2col is implicit), one FMA per
// (tap, vector). On images of at least wgrad_min_pixels the reduction over a band's pixels
// stays in registers; each thread adds its tiles into a private [C·9][K] partial, and the
// partials are summed in thread order (a fixed share of bands per thread), so a run is
// reproducible for a given thread count — the same contract as the GEMM path's wgrad. Smaller
// images (the deep levels) run each tile over the whole batch instead (`wgrad_whole_batch`:
// no partials, sums independent of the thread count). Why not the dot-product form (vectors along q)? Its
// partial sums are vectors per (k, c, r, s): they cannot stay in registers across a band, and
// it measured slower than Eigen (docs/benchmarks.md).
#include <algorithm>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cpu/conv2d_direct.hpp"
#include "modelmix/ops/cpu/conv2d_direct_narrow.hpp"
#include "modelmix/ops/cpu/mix_gradient.hpp"
#include "modelmix/tensor/aligned_allocator.hpp"

namespace modelmix::ops::cpu {

#if MODELMIX_HAS_DIRECT_CONV

namespace direct {

inline constexpr index_t wgrad_taps = 9;  // 3×3 only: other filters stay on the GEMM path
// Bands of at least this many output pixels, on images of at least this many: every band adds
// its tiles into the thread's [C·9][K] partial (MBs for deep layers), which has to be small
// beside the band's FMAs. Smaller images go over the whole batch (no partials): 2.0× (16²) and
// 2.4× (8²) Eigen's GEMM with AVX-512 on Sapphire Rapids; at 32² and up the bands were as fast or
// faster. (With bands, those small images had lost to Eigen, on AVX2 too; the whole-batch form
// is not yet measured on an AVX2 machine.)
inline constexpr index_t wgrad_min_pixels = 1024;
// A micro-tile is tile_kv vectors of output channels × a group of taps, its accumulators, the
// tile_kv dy vectors and one broadcast in registers: per pixel tile_kv + taps loads for
// tile_kv · taps FMAs. With AVX-512's 32 registers one group holds all 9 taps (11 loads per 18
// FMAs). With 16 registers (AVX2) the 9 taps go in two passes over the band, 5 then 4 taps
// (7 loads per 10 FMAs, then 6 per 8): the earlier single-vector tile (10 loads per 9 FMAs) was
// load-bound and lost to Eigen, and a 6 + 3 split would leave the second pass 6 accumulators,
// fewer than the 8 independent FMA chains two FMA pipes with 4-cycle latency need.
inline constexpr int tile_kv = 2;
#if XSIMD_WITH_AVX512F
inline constexpr int tap_groups[] = {9};
#else
inline constexpr int tap_groups[] = {5, 4};
#endif
// Measured against Eigen with AVX-512 and with AVX2 + FMA only: other builds (SSE, no FMA) keep
// the GEMM path; the tests run the kernel in every build.
inline constexpr bool wgrad_measured = XSIMD_WITH_AVX512F || XSIMD_WITH_FMA3_AVX2;

// acc[t][j] += xpad(pixel + tap t) · dy(pixel, channels of vector j), over the band's pixels.
// slab_c: channel c of the band's slab; tap: the group's NT offsets into it; dyT: the channel
// block's [pixel][tile_kv · lanes] (contiguous: the tile streams it).
template <class T, int NT>
inline void wgrad_tile(const T* slab_c, index_t slab_w, index_t rows, index_t Q, const index_t* tap, const T* dyT,
                       vec<T> (&acc)[NT][tile_kv]) {
  constexpr index_t block = tile_kv * lanes<T>;
  index_t off[NT];  // local copies: the compiler keeps them in registers
  for (int t = 0; t < NT; ++t) off[t] = tap[t];
  for (index_t pp = 0; pp < rows; ++pp)
    for (index_t qq = 0; qq < Q; ++qq) {
      const T* d = dyT + (pp * Q + qq) * block;
      vec<T> dv[tile_kv];
      for (int j = 0; j < tile_kv; ++j) dv[j] = vec<T>::load_aligned(d + j * lanes<T>);
      const T* xb = slab_c + pp * slab_w + qq;
      for (int t = 0; t < NT; ++t) {
        const vec<T> b(xb[off[t]]);
        for (int j = 0; j < tile_kv; ++j) acc[t][j] = xsimd::fma(b, dv[j], acc[t][j]);
      }
    }
}

// One tap group of one (channel block, input channel) over a band of each of `samples` samples
// (slab_c and dyT step by slab_step and dy_step from one to the next), then sink(t0, acc): t0 is
// the group's first tap, acc[t][j] the sums of tap t0 + t for the block's vector j.
struct wgrad_span {
  index_t samples, slab_step, dy_step;
};
template <class T, int NT, class Sink>
inline void wgrad_group(const T* slab_c, index_t slab_w, index_t rows, index_t Q, const index_t* tap, const T* dyT,
                        wgrad_span span, index_t t0, Sink& sink) {
  vec<T> acc[NT][tile_kv];
  for (auto& row : acc)
    for (vec<T>& a : row) a = vec<T>(T(0));
  for (index_t n = 0; n < span.samples; ++n)
    wgrad_tile<T, NT>(slab_c + n * span.slab_step, slab_w, rows, Q, tap, dyT + n * span.dy_step, acc);
  sink(t0, acc);
}

// The whole filter of one (channel block, input channel): every group of tap_groups in turn.
template <class T, std::size_t... G, class Sink>
inline void wgrad_taps_of_channel(std::index_sequence<G...>, const T* slab_c, index_t slab_w, index_t rows, index_t Q,
                                  const index_t (&tap)[wgrad_taps], const T* dyT, wgrad_span span, Sink&& sink) {
  index_t t0 = 0;  // taps of the groups before this one
  ((wgrad_group<T, tap_groups[G]>(slab_c, slab_w, rows, Q, tap + t0, dyT, span, t0, sink), t0 += tap_groups[G]), ...);
}

// dy_n's rows [p0, p1) as [channel block][pixel][tile_kv · lanes], `pitch` pixels per block
// (64-byte aligned); adds Σ_pixels dy into db (when non-null). Writes channels [0, K) only: the
// caller zeroes the buffer once, so the lanes past K (computed and dropped) hold zeros, not
// denormals (slow) or garbage. The blocked layout keeps a tile's dy reads contiguous; with
// [pixel][K] rows a deep layer's tile read 64 bytes every K · 4 bytes.
// The copy goes a chunk of pixels at a time, so the chunk's rows of the block stay in L1 while
// each channel writes its column; db is then summed from the blocked rows a vector of channels
// at a time, each channel's pixels in order (the same sums as one scalar loop per channel,
// without its chain of dependent adds: that chain made this copy ~3 % of a width-32 step).
template <class T>
void transpose_band(const plan& p, const T* dy_n, index_t p0, index_t p1, index_t pitch, T* dyT, T* db) {
  constexpr index_t block = tile_kv * lanes<T>, chunk = 16;
  const index_t pixels = (p1 - p0) * p.Q, plane = p.P * p.Q;
  const T* src = dy_n + p0 * p.Q;
  for (index_t k0 = 0; k0 < p.K; k0 += block) {
    const index_t k1 = std::min(p.K, k0 + block);
    T* dst = dyT + (k0 / block) * pitch * block;
    for (index_t i0 = 0; i0 < pixels; i0 += chunk) {
      const index_t i1 = std::min(pixels, i0 + chunk);
      for (index_t k = k0; k < k1; ++k) {
        const T* s = src + k * plane;
        T* d = dst + (k - k0);
        for (index_t i = i0; i < i1; ++i) d[i * block] = s[i];
      }
    }
    if (!db) continue;
    vec<T> sum[tile_kv];
    for (vec<T>& v : sum) v = vec<T>(T(0));
    for (index_t i = 0; i < pixels; ++i)
      for (int j = 0; j < tile_kv; ++j) sum[j] += vec<T>::load_aligned(dst + i * block + j * lanes<T>);
    alignas(64) T sums[block];
    for (int j = 0; j < tile_kv; ++j) sum[j].store_aligned(sums + j * lanes<T>);
    for (index_t k = k0; k < k1; ++k) db[k] += sums[k - k0];
  }
}

}  // namespace direct

// The problems the direct wgrad takes: the direct or the narrow kernel's with a 3×3 filter, in
// the builds it was measured in.
template <class T>
bool direct_wgrad_applies(const conv2d_problem& pb) {
  return direct::wgrad_measured && (direct_conv_applies<T>(pb) || narrow_conv_applies<T>(pb)) && pb.R == 3 &&
         pb.S == 3;
}

namespace direct {

// The thread partials of dW as [C·9][Kpad] and of db, for images of at least wgrad_min_pixels:
// a fixed share of (sample, band) tasks per thread, each band's tiles added into the thread's own
// partial.
template <class T>
void wgrad_bands(plan p, const T* x, const T* dy, bool want_dw, bool want_db, int thread_count,
                 std::vector<std::vector<T>>& dw_parts, std::vector<std::vector<T>>& db_parts) {
  p.band = std::clamp<index_t>((wgrad_min_pixels + p.Q - 1) / p.Q, p.band, p.P);
  const index_t block = tile_kv * lanes<T>;
  const index_t Kpad = (p.K + block - 1) / block * block, CT = p.C * wgrad_taps;
  const index_t bands = (p.P + p.band - 1) / p.band, tasks = p.N * bands;
  dw_parts.resize(std::size_t(thread_count));
  db_parts.resize(std::size_t(thread_count));
  index_t tap[wgrad_taps];
  for (index_t t = 0; t < wgrad_taps; ++t) tap[t] = (t / 3) * p.slab_w + t % 3;

#pragma omp parallel num_threads(thread_count) if (thread_count > 1)
  {
    std::vector<T>& dw = dw_parts[std::size_t(thread_id())];
    std::vector<T>& db = db_parts[std::size_t(thread_id())];
    dw.assign(std::size_t(want_dw ? CT * Kpad : 0), T(0));
    db.assign(std::size_t(want_db ? p.K : 0), T(0));
    const index_t slab_rows_max = p.band + p.R - 1;
    std::unique_ptr<T[]> slab(want_dw ? new T[std::size_t(p.C * slab_rows_max * p.slab_w)] : nullptr);
    const index_t pitch = p.band * p.Q;
    aligned_vector<T> dyT(std::size_t(pitch * Kpad), T(0));  // the Kpad tail stays zero
#pragma omp for schedule(static)
    for (index_t task = 0; task < tasks; ++task) {
      const index_t n = task / bands, p0 = (task % bands) * p.band, p1 = std::min(p.P, p0 + p.band);
      const index_t rows = p1 - p0, slab_rows = rows + p.R - 1;
      transpose_band(p, dy + n * p.K * p.P * p.Q, p0, p1, pitch, dyT.data(), want_db ? db.data() : nullptr);
      if (!want_dw) continue;
      fill_slab(p, x + n * p.C * p.H * p.W, p0, slab_rows, slab.get());
      for (index_t k0 = 0; k0 < Kpad; k0 += block)
        for (index_t c = 0; c < p.C; ++c) {
          T* dw_c = dw.data() + c * wgrad_taps * Kpad + k0;  // the rows of its taps
          wgrad_taps_of_channel(std::make_index_sequence<std::size(tap_groups)>{},
                                slab.get() + c * slab_rows * p.slab_w, p.slab_w, rows, p.Q, tap,
                                dyT.data() + k0 * pitch, wgrad_span{1, 0, 0}, [&](index_t t0, const auto& acc) {
                                  for (std::size_t t = 0; t < std::size(acc); ++t)
                                    for (int j = 0; j < tile_kv; ++j) {
                                      T* out = dw_c + (t0 + index_t(t)) * Kpad + j * lanes<T>;
                                      (vec<T>::load_unaligned(out) + acc[t][j]).store_unaligned(out);
                                    }
                                });
        }
    }
  }
}

// dW as [K][C·9] and db, for images under wgrad_min_pixels (16×16, 8×8: hundreds of channels,
// filters of MBs). There a band's few pixels cannot pay for adding its tiles into a thread's
// partial of the whole filter, and Eigen's GEMM over the batch's im2col ran at ~0.5× oneDNN's
// speed (16×16, 256 channels, Sapphire Rapids). Instead the whole batch's dy is transposed and
// its slabs filled once, and each tile (a channel block × one input channel's taps) runs over all
// N·P·Q pixels in registers and is written once, straight into dW: no partials, and the tasks
// split dW, not the pixels, so the sums do not depend on the thread count.
template <class T>
void wgrad_whole_batch(const plan& p, const T* x, const T* dy, bool want_dw, bool want_db, int thread_count, T* dw,
                       T* db) {
  const index_t block = tile_kv * lanes<T>, PQ = p.P * p.Q, pitch = p.N * PQ;
  const index_t Kpad = (p.K + block - 1) / block * block, CT = p.C * wgrad_taps;
  const index_t rows = p.P + p.R - 1, slab_c = rows * p.slab_w, slab_n = p.C * slab_c;
  aligned_vector<T> dyT(std::size_t(pitch * Kpad), T(0));  // [Kpad / block][n][pixel][block]
  std::vector<T> db_n(std::size_t(want_db ? p.N * p.K : 0), T(0));  // summed in sample order
  std::unique_ptr<T[]> slab(want_dw ? new T[std::size_t(p.N * slab_n)] : nullptr);
  index_t tap[wgrad_taps];
  for (index_t t = 0; t < wgrad_taps; ++t) tap[t] = (t / 3) * p.slab_w + t % 3;
  const index_t tasks = want_dw ? Kpad / block * p.C : 0;

#pragma omp parallel num_threads(thread_count) if (thread_count > 1)
  {
#pragma omp for schedule(static)
    for (index_t n = 0; n < p.N; ++n) {
      transpose_band(p, dy + n * p.K * PQ, 0, p.P, pitch, dyT.data() + n * PQ * block,
                     want_db ? db_n.data() + n * p.K : nullptr);
      if (want_dw) fill_slab(p, x + n * p.C * p.H * p.W, 0, rows, slab.get() + n * slab_n);
    }
    // Consecutive tasks share a channel block, whose dy (all samples) stays in L2.
#pragma omp for schedule(static)
    for (index_t task = 0; task < tasks; ++task) {
      const index_t k0 = task / p.C * block, c = task % p.C, k_valid = std::min(block, p.K - k0);
      alignas(64) T sums[wgrad_taps][block];
      wgrad_taps_of_channel(std::make_index_sequence<std::size(tap_groups)>{}, slab.get() + c * slab_c, p.slab_w, p.P,
                            p.Q, tap, dyT.data() + k0 * pitch, wgrad_span{p.N, slab_n, PQ * block},
                            [&](index_t t0, const auto& acc) {
                              for (std::size_t t = 0; t < std::size(acc); ++t)
                                for (int j = 0; j < tile_kv; ++j) acc[t][j].store_aligned(&sums[t0 + index_t(t)][j * lanes<T>]);
                            });
      for (index_t k = 0; k < k_valid; ++k)
        for (index_t t = 0; t < wgrad_taps; ++t) dw[(k0 + k) * CT + c * wgrad_taps + t] = sums[t][k];
    }
  }
  for (index_t n = 0; n < (want_db ? p.N : 0); ++n)
    for (index_t k = 0; k < p.K; ++k) db[k] += db_n[std::size_t(n * p.K + k)];
}

}  // namespace direct

// dW, db of y = conv(x, W) + b, split into the spec's parents (grad_weight_i += c_i·dW, …).
template <class T>
void conv2d_direct_wgrad(const conv2d_problem& pb, const T* x, const T* dy, const mixing::spec<T>& spec, bool threads) {
  using namespace direct;
  MODELMIX_REQUIRE(pb.R == 3 && pb.S == 3 && pb.stride_h == 1 && pb.stride_w == 1, "conv2d_direct_wgrad: ",
                   pb.str(), " is not a stride-1 3×3 convolution");
  const plan p = make_plan<T>(pb);
  const bool want_dw = spec.wants_weight_grad(), want_db = spec.wants_bias_grad();
  const index_t block = tile_kv * lanes<T>;
  const index_t Kpad = (p.K + block - 1) / block * block, CT = p.C * wgrad_taps;
  const int thread_count = threads ? max_threads() : 1;
  std::vector<T> dw(std::size_t(want_dw ? p.K * CT : 0)), db(std::size_t(want_db ? p.K : 0), T(0));
  if (p.P * p.Q < wgrad_min_pixels) {
    wgrad_whole_batch(p, x, dy, want_dw, want_db, thread_count, dw.data(), db.data());
    return split_into_parents(spec, want_dw ? dw.data() : nullptr, want_db ? db.data() : nullptr);
  }
  std::vector<std::vector<T>> dw_parts, db_parts;
  wgrad_bands(p, x, dy, want_dw, want_db, thread_count, dw_parts, db_parts);
  // Thread partials in thread order, then [C·9][Kpad] → dW [K][C·9], a block of output channels
  // per thread: reads run along k, and each of the block's rows of dW is written in order.
  const index_t k_blocks = want_dw ? (p.K + block - 1) / block : 0;
  const bool spread = thread_count > 1 && p.K * CT >= parallel_min_work;
#pragma omp parallel for schedule(static) num_threads(thread_count) if (spread)
  for (index_t kb = 0; kb < k_blocks; ++kb) {
    const index_t k0 = kb * block, k1 = std::min(p.K, k0 + block);
    for (index_t i = 0; i < CT; ++i)
      for (index_t k = k0; k < k1; ++k) {
        T sum = 0;
        for (const std::vector<T>& part : dw_parts)  // empty when OpenMP ran fewer threads
          if (!part.empty()) sum += part[std::size_t(i * Kpad + k)];
        dw[std::size_t(k * CT + i)] = sum;
      }
  }
  for (const std::vector<T>& part : db_parts)
    for (std::size_t k = 0; k < part.size(); ++k) db[k] += part[k];
  split_into_parents(spec, want_dw ? dw.data() : nullptr, want_db ? db.data() : nullptr);
}

#endif  // MODELMIX_HAS_DIRECT_CONV

}  // namespace modelmix::ops::cpu
