#pragma once
// Mixed conv2d data gradient as an implicit GEMM over dx (gather, no col2im scatter):
//
//   dx[n,c,h,w] += Σ_{k,r,s} (Σ_i c_i·W_i[k,c,r,s]) · dy[n, k, p, q]
//                  where h = p·sh − ph + r and w = q·sw − pw + s (taps with no such p, q add 0)
//
//   GEMM  M = C,  N = N·H·W (column j = (n,h,w)),  Kd = K·R·S (k = (k,r,s))
//   A[c, k] = Σ_i c_i·W_i[(k·C + c)·RS + rs]   (the mixed filter, read transposed)
//   B[k, j] = dy[n, k, p, q] with p = (h + ph − r)/sh, q = (w + pw − s)/sw when both divide
//             exactly and land inside [0,P) × [0,Q); else 0
//   epilogue: dx[n, c, h, w] += acc
//
// Each dx element belongs to exactly one thread of one block, which sums every tap that hits
// it: no atomics, no scatter, deterministic. Stride 2 gathers read zeros for 3 of 4 taps.
// Grid gemm_grid<dgrad_tile>(C, N·H·W), dgrad_tile::threads threads, gemm_smem<dgrad_tile>.
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/cuda/implicit_gemm.cuh"

namespace modelmix::ops::cuda {

using dgrad_tile = gemm_tile<64, 64, 8, 4, 4, tile_order::k_fast, tile_order::mn_fast>;

// A[c, k] = Σ_i c_i·W_i[k_out, c, r, s] with k = (k_out, r, s).
template <class T, int Max>
struct mixed_filter_transposed {
  const mixing::kernel_spec<T, Max>& spec;
  const conv_shape& s;
  MODELMIX_HOST_DEVICE T operator()(int c, int k) const {
    const int ko = k / s.RS(), rs = k - ko * s.RS();
    const int at = (ko * s.C + c) * s.RS() + rs;
    T v = T(0);
    MODELMIX_UNROLL
    for (int i = 0; i < Max; ++i)
      if (i < spec.count) v = mixing::accumulate(v, spec.coeff[i], spec.weight[i][at]);
    return v;
  }
};

// B[k, j] = dy[n, k_out, p, q] for the tap (r, s) of k = (k_out, r, s) that reaches j = (n, h, w).
template <class T>
struct dgrad_taps {
  const conv_shape& s;
  const T* dy;
  MODELMIX_HOST_DEVICE T operator()(int k, int j) const {
    const int ko = k / s.RS(), rs = k - ko * s.RS(), r = rs / s.S, t = rs - r * s.S;
    const int n = j / s.HW(), hw = j - n * s.HW(), h = hw / s.W, w = hw - h * s.W;
    const int ph = h + s.pad_h - r, pw = w + s.pad_w - t;  // = p·sh, q·sw for a hit
    if (ph < 0 || pw < 0) return T(0);
    const int p = ph / s.stride_h, q = pw / s.stride_w;
    if (p * s.stride_h != ph || q * s.stride_w != pw || p >= s.P || q >= s.Q) return T(0);
    return dy[((n * s.K + ko) * s.P + p) * s.Q + q];
  }
};

template <class Tile = dgrad_tile>
inline idx3 dgrad_grid(const conv_shape& s) {
  return gemm_grid<Tile>(s.C, s.NHW());
}

template <class Tile, class T, int Max, class Ctx>
MODELMIX_HOST_DEVICE void mixed_conv2d_dgrad_body(const Ctx& ctx, gemm_smem<Tile, T>& sm, const conv_shape& s,
                                                  const T* dy, T* dx, const mixing::kernel_spec<T, Max>& spec) {
  const int m0 = ctx.block().y * Tile::BM, n0 = ctx.block().x * Tile::BN;
  const int t = ctx.linear_thread(), tx = t % Tile::TX, ty = t / Tile::TX;
  T acc[Tile::TM][Tile::TN] = {};
  gemm_mainloop<Tile>(ctx, sm, m0, n0, s.C, s.NHW(), 0, s.KRS(), mixed_filter_transposed<T, Max>{spec, s},
                      dgrad_taps<T>{s, dy}, acc);
  MODELMIX_UNROLL
  for (int i = 0; i < Tile::TM; ++i) {
    const int c = m0 + ty + i * Tile::TY;
    if (c >= s.C) continue;
    MODELMIX_UNROLL
    for (int j = 0; j < Tile::TN; ++j) {
      const int col = n0 + tx + j * Tile::TX;
      if (col >= s.NHW()) continue;
      const int n = col / s.HW(), hw = col - n * s.HW();
      dx[(n * s.C + c) * s.HW() + hw] += acc[i][j];
    }
  }
}

}  // namespace modelmix::ops::cuda
