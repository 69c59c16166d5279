#pragma once
// The weight gradient of a stride-1 3×3 convolution without im2col and without a GEMM
// library's repacking (the companion of ops/cpu/conv2d_direct.hpp's fprop/dgrad kernel).
//
//   dW[k,c,r,s] = Σ_{n,p,q} dy[n,k,p,q] · xpad[n, c, p + r, q + s]        db[k] = Σ dy[n,k,p,q]
//
// An outer product per output pixel: the micro-tile holds `tile_kv` vectors of output channels
// × the 9 taps of one input channel in registers; per pixel it loads tile_kv vectors of dy
// (from dy transposed per band into [pixel][k], so channels are contiguous) and broadcasts the
// 9 input values the taps read (straight from the zero-padded slab: the im2col is implicit),
// 9·tile_kv FMAs. The reduction over a band's pixels stays in registers; each thread adds its
// tiles into a private [C·9][K] partial, and the partials are summed in thread order (a fixed
// share of bands per thread), so a run is reproducible for a given thread count — the same
// contract as the GEMM path's wgrad. Why not the dot-product form (vectors along q)? Its
// partial sums are vectors per (k, c, r, s): they cannot stay in registers across a band, and
// it measured slower than Eigen (docs/benchmarks.md).
#include <algorithm>
#include <memory>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cpu/conv2d_direct.hpp"
#include "modelmix/ops/cpu/mix_gradient.hpp"
#include "modelmix/tensor/aligned_allocator.hpp"

namespace modelmix::ops::cpu {

#if MODELMIX_HAS_DIRECT_CONV

namespace direct {

inline constexpr index_t wgrad_taps = 9;  // 3×3 only: other filters stay on the GEMM path
inline constexpr index_t wgrad_min_pixels = 1024;
// 9 taps × tile_kv accumulators + tile_kv dy vectors + one broadcast fit the register file.
// With 16 registers (below AVX-512) only one dy vector fits: 10 loads per 9 FMAs, slower than
// Eigen's GEBP (measured 128–153 against 152–182 GFLOP/s with AVX2 on Zen 5), so the dispatch
// takes this kernel only with AVX-512; the narrower tile is kept for the tests.
#if XSIMD_WITH_AVX512F
inline constexpr int tile_kv = 2;
inline constexpr bool wgrad_pays = true;
#else
inline constexpr int tile_kv = 1;
inline constexpr bool wgrad_pays = false;
#endif

// acc[t][j] += xpad(pixel + tap t) · dy(pixel, channels of vector j), over the band's pixels.
// slab_c: channel c of the band's slab; dyT: [pixel][Kpad] from the vector block's first channel.
template <class T>
inline void wgrad_tile(const T* slab_c, index_t slab_w, index_t rows, index_t Q, const index_t (&tap)[wgrad_taps],
                       const T* dyT, index_t Kpad, vec<T> (&acc)[wgrad_taps][tile_kv]) {
  for (index_t pp = 0; pp < rows; ++pp)
    for (index_t qq = 0; qq < Q; ++qq) {
      const T* d = dyT + (pp * Q + qq) * Kpad;
      vec<T> dv[tile_kv];
      for (int j = 0; j < tile_kv; ++j) dv[j] = vec<T>::load_aligned(d + j * lanes<T>);
      const T* xb = slab_c + pp * slab_w + qq;
      for (index_t t = 0; t < wgrad_taps; ++t) {
        const vec<T> b(xb[tap[t]]);
        for (int j = 0; j < tile_kv; ++j) acc[t][j] = xsimd::fma(b, dv[j], acc[t][j]);
      }
    }
}

// dy_n's rows [p0, p1) as [pixel][Kpad], 64-byte aligned rows; adds Σ_pixels dy into db (when
// non-null). Writes channels [0, K) only: the caller zeroes the buffer once, so the lanes past K
// (computed and dropped) hold zeros, not denormals (slow) or garbage.
template <class T>
void transpose_band(const plan& p, const T* dy_n, index_t p0, index_t p1, index_t Kpad, T* dyT, T* db) {
  const index_t pixels = (p1 - p0) * p.Q, plane = p.P * p.Q;
  for (index_t k = 0; k < p.K; ++k) {
    const T* src = dy_n + k * plane + p0 * p.Q;
    T sum = 0;
    for (index_t i = 0; i < pixels; ++i) {
      dyT[i * Kpad + k] = src[i];
      sum += src[i];
    }
    if (db) db[k] += sum;
  }
}

}  // namespace direct

// The problems the direct wgrad takes: the direct kernel's (stride 1, rows at least a vector
// wide) with a 3×3 filter, in AVX-512 builds.
template <class T>
bool direct_wgrad_applies(const conv2d_problem& pb) {
  return direct::wgrad_pays && direct_conv_applies<T>(pb) && pb.R == 3 && pb.S == 3;
}

// dW, db of y = conv(x, W) + b, split into the spec's parents (grad_weight_i += c_i·dW, …).
template <class T>
void conv2d_direct_wgrad(const conv2d_problem& pb, const T* x, const T* dy, const mixing::spec<T>& spec, bool threads) {
  using namespace direct;
  MODELMIX_REQUIRE(pb.R == 3 && pb.S == 3 && pb.stride_h == 1 && pb.stride_w == 1, "conv2d_direct_wgrad: ",
                   pb.str(), " is not a stride-1 3×3 convolution");
  plan p = make_plan<T>(pb);
  // Every band adds its tiles into the thread's [C·9][K] partial (MBs for deep layers): bands
  // of at least wgrad_min_pixels keep that traffic small beside the band's FMAs.
  p.band = std::clamp<index_t>((wgrad_min_pixels + p.Q - 1) / p.Q, p.band, p.P);
  const bool want_dw = spec.wants_weight_grad(), want_db = spec.wants_bias_grad();
  const index_t block = tile_kv * lanes<T>;
  const index_t Kpad = (p.K + block - 1) / block * block, CT = p.C * wgrad_taps;
  const index_t bands = (p.P + p.band - 1) / p.band, tasks = p.N * bands;
  const int thread_count = threads ? max_threads() : 1;
  const auto parts = static_cast<std::size_t>(thread_count);
  std::vector<std::vector<T>> dw_parts(parts), db_parts(parts);
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
    aligned_vector<T> dyT(std::size_t(p.band * p.Q * Kpad), T(0));  // the Kpad tail stays zero
#pragma omp for schedule(static)
    for (index_t task = 0; task < tasks; ++task) {
      const index_t n = task / bands, p0 = (task % bands) * p.band, p1 = std::min(p.P, p0 + p.band);
      const index_t rows = p1 - p0, slab_rows = rows + p.R - 1;
      transpose_band(p, dy + n * p.K * p.P * p.Q, p0, p1, Kpad, dyT.data(), want_db ? db.data() : nullptr);
      if (!want_dw) continue;
      fill_slab(p, x + n * p.C * p.H * p.W, p0, slab_rows, slab.get());
      for (index_t k0 = 0; k0 < Kpad; k0 += block)
        for (index_t c = 0; c < p.C; ++c) {
          vec<T> acc[wgrad_taps][tile_kv];
          for (auto& row : acc)
            for (vec<T>& a : row) a = vec<T>(T(0));
          wgrad_tile(slab.get() + c * slab_rows * p.slab_w, p.slab_w, rows, p.Q, tap, dyT.data() + k0, Kpad, acc);
          for (index_t t = 0; t < wgrad_taps; ++t)
            for (int j = 0; j < tile_kv; ++j) {
              T* out = dw.data() + (c * wgrad_taps + t) * Kpad + k0 + j * lanes<T>;
              (vec<T>::load_unaligned(out) + acc[t][j]).store_unaligned(out);
            }
        }
    }
  }
  // Thread partials in thread order, then [C·9][Kpad] → dW [K][C·9], a block of output channels
  // per thread: reads run along k, and each of the block's rows of dW is written in order.
  std::vector<T> dw(std::size_t(want_dw ? p.K * CT : 0)), db(std::size_t(want_db ? p.K : 0), T(0));
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
