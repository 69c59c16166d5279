#pragma once
// Mixed conv2d forward as an implicit GEMM, the filter mixed while its tile is loaded:
//
//   y[n,k,p,q] = Σ_i c_i·b_i[k] + Σ_{c,r,s} (Σ_i c_i·W_i[k,c,r,s]) · x[n, c, p·sh − ph + r, q·sw − pw + s]
//
//   GEMM  M = K,  N = N·P·Q (column j = (n,p,q)),  Kd = C·R·S (k = (c,r,s))
//   A[m, k] = Σ_i c_i·W_i[m·CRS + k]   (never stored: formed per element of the smem tile)
//   B[k, j] = im2col(x)[k, j]          (0 where the tap falls in the padding)
//   epilogue: y[n, m, p, q] = acc + Σ_i c_i·b_i[m]         (overwrites y)
//
// Grid gemm_grid<fprop_tile>(K, N·P·Q), fprop_tile::threads threads, gemm_smem<fprop_tile>.
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/cuda/implicit_gemm.cuh"

namespace modelmix::ops::cuda {

using fprop_tile = gemm_tile<64, 64, 8, 4, 4, tile_order::k_fast, tile_order::mn_fast>;

// A[m, k] = Σ_i c_i·W_i[m·ld + k]: a filter row-major in k (fprop: ld = C·R·S).
template <class T, int Max>
struct mixed_filter_rows {
  const mixing::kernel_spec<T, Max>& spec;
  int ld;
  MODELMIX_HOST_DEVICE T operator()(int m, int k) const {
    const int at = m * ld + k;
    T v = T(0);
    MODELMIX_UNROLL
    for (int i = 0; i < Max; ++i)  // constant indices only: the spec stays in parameter space
      if (i < spec.count) v = mixing::accumulate(v, spec.coeff[i], spec.weight[i][at]);
    return v;
  }
};

// B[k, j] = x[n, c, p·sh − ph + r, q·sw − pw + s] with k = (c,r,s), j = (n,p,q); 0 in the padding.
template <class T>
struct im2col_columns {
  const conv_shape& s;
  const T* x;
  MODELMIX_HOST_DEVICE T operator()(int k, int j) const {
    const int c = k / s.RS(), rs = k - c * s.RS(), r = rs / s.S, t = rs - r * s.S;
    const int n = j / s.PQ(), pq = j - n * s.PQ(), p = pq / s.Q, q = pq - p * s.Q;
    const int ih = p * s.stride_h - s.pad_h + r, iw = q * s.stride_w - s.pad_w + t;
    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) return T(0);
    return x[((n * s.C + c) * s.H + ih) * s.W + iw];
  }
};

template <class Tile = fprop_tile>
inline idx3 fprop_grid(const conv_shape& s) {
  return gemm_grid<Tile>(s.K, s.NPQ());
}

template <class Tile, class T, int Max, class Ctx>
MODELMIX_HOST_DEVICE void mixed_conv2d_fprop_body(const Ctx& ctx, gemm_smem<Tile, T>& sm, const conv_shape& s,
                                                  const T* x, T* y, const mixing::kernel_spec<T, Max>& spec) {
  const int m0 = ctx.block().y * Tile::BM, n0 = ctx.block().x * Tile::BN;
  const int t = ctx.linear_thread(), tx = t % Tile::TX, ty = t / Tile::TX;
  T acc[Tile::TM][Tile::TN] = {};
  gemm_mainloop<Tile>(ctx, sm, m0, n0, s.K, s.NPQ(), 0, s.CRS(), mixed_filter_rows<T, Max>{spec, s.CRS()},
                      im2col_columns<T>{s, x}, acc);
  MODELMIX_UNROLL
  for (int i = 0; i < Tile::TM; ++i) {
    const int m = m0 + ty + i * Tile::TY;
    if (m >= s.K) continue;
    T bias = T(0);  // b[m] = Σ_i c_i·b_i[m]
    if (spec.bias_numel > 0)
      MODELMIX_UNROLL
      for (int u = 0; u < Max; ++u)
        if (u < spec.count && spec.bias[u]) bias = mixing::accumulate(bias, spec.coeff[u], spec.bias[u][m]);
    MODELMIX_UNROLL
    for (int j = 0; j < Tile::TN; ++j) {
      const int col = n0 + tx + j * Tile::TX;
      if (col >= s.NPQ()) continue;
      const int n = col / s.PQ(), pq = col - n * s.PQ();
      y[(n * s.K + m) * s.PQ() + pq] = acc[i][j] + bias;
    }
  }
}

}  // namespace modelmix::ops::cuda
