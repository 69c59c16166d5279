#pragma once
// The implicit-GEMM core shared by the mixed convolution kernels: 32-bit problem shape, tile
// configuration, shared-memory tiles and the main loop. fp32 SIMT, no tensor cores.
//
//   C[M × N] (+)= A[M × Kd] · B[Kd × N]       one BM × BN tile of C per block
//
// Operands are never stored: a loader functor returns A(m, k) / B(k, n) at global coordinates
// (the fused loaders form Σ c_i·W_i there, or gather an im2col / dgrad tap). The main loop
// guards every call (m < M, n < N, k in [k_begin, k_end)) and writes 0 outside, so ragged
// tiles need no special case and loaders never see out-of-range coordinates.
//
// Pipeline (one barrier per BK step): the next tile is fetched from global memory into
// registers while the current tile is multiplied out of shared memory, then stored into the
// other of two shared-memory buffers.
//
//   thread t of the block (threads = (BM/TM)·(BN/TN)): tx = t mod (BN/TN), ty = t div (BN/TN)
//   owns rows  m0 + ty + i·(BM/TM), i < TM   and columns  n0 + tx + j·(BN/TN), j < TN
#include <climits>

#include "modelmix/ops/conv2d_problem.hpp"
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

// conv2d_problem in 32-bit ints (rule: kernels take 32-bit shapes; see fits_32bit).
//   x [N,C,H,W]  W [K,C,R,S]  y [N,K,P,Q]
struct conv_shape {
  int N, C, H, W, K, R, S, pad_h, pad_w, stride_h, stride_w, P, Q;
  MODELMIX_HOST_DEVICE int RS() const { return R * S; }
  MODELMIX_HOST_DEVICE int CRS() const { return C * R * S; }
  MODELMIX_HOST_DEVICE int PQ() const { return P * Q; }
  MODELMIX_HOST_DEVICE int HW() const { return H * W; }
  MODELMIX_HOST_DEVICE int NPQ() const { return N * P * Q; }
  MODELMIX_HOST_DEVICE int NHW() const { return N * H * W; }
  MODELMIX_HOST_DEVICE int KRS() const { return K * R * S; }
};

// Whether every index the kernels form fits in int: tensor sizes, GEMM extents, and the
// padded coordinates. Grid limits are checked by the launch code.
inline bool fits_32bit(const conv2d_problem& p) {
  const index_t lim = INT_MAX;
  return p.N * p.C * p.H * p.W <= lim && p.N * p.K * p.P() * p.Q() <= lim && p.K * p.C * p.R * p.S <= lim &&
         p.H + 2 * p.pad_h + p.R <= lim && p.W + 2 * p.pad_w + p.S <= lim && p.stride_h <= lim && p.stride_w <= lim;
}

inline conv_shape make_conv_shape(const conv2d_problem& p) {
  MODELMIX_REQUIRE(fits_32bit(p), "cuda conv2d: ", p.str(), " does not fit 32-bit indices");
  return {int(p.N),     int(p.C),     int(p.H),        int(p.W),        int(p.K),   int(p.R),  int(p.S),
          int(p.pad_h), int(p.pad_w), int(p.stride_h), int(p.stride_w), int(p.P()), int(p.Q())};
}

// Which coordinate consecutive threads walk when a tile is fetched: along Kd (k_fast; the
// operand is contiguous in k, e.g. a filter row) or along M/N (mn_fast; e.g. im2col columns).
enum class tile_order { k_fast, mn_fast };

template <int BM_, int BN_, int BK_, int TM_, int TN_, tile_order AOrder, tile_order BOrder>
struct gemm_tile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int TX = BN / TN, TY = BM / TM, threads = TX * TY;
  static constexpr tile_order a_order = AOrder, b_order = BOrder;
  static constexpr int a_per_thread = BM * BK / threads, b_per_thread = BK * BN / threads;
  // Rows padded by 4 floats: k-fast stores (a warp writes 32/BK rows × BK k) hit 32 banks.
  static constexpr int a_stride = BM + 4, b_stride = BN + 4;
  static_assert(BM % TM == 0 && BN % TN == 0, "micro-tile must divide the block tile");
  static_assert(threads % warp_size == 0, "block size must be a multiple of 32");
  static_assert(BM * BK % threads == 0 && BK * BN % threads == 0, "tile fetch must split evenly over threads");
};

// Two buffers of the A and B tiles, k-major: a[buf][k][m], b[buf][k][n].
template <class Tile, class T>
struct gemm_smem {
  T a[2][Tile::BK][Tile::a_stride];
  T b[2][Tile::BK][Tile::b_stride];
};

namespace detail {

// Element u of thread t's share of a ROWS × BK tile: (row, k) within the tile.
template <tile_order Order, int Rows, int BK, int Threads>
MODELMIX_HOST_DEVICE inline void tile_coord(int t, int u, int& row, int& k) {
  const int e = t + u * Threads;
  if constexpr (Order == tile_order::k_fast) {
    row = e / BK;
    k = e % BK;
  } else {
    row = e % Rows;
    k = e / Rows;
  }
}

template <class Tile, class T, class LoadA, class LoadB>
MODELMIX_HOST_DEVICE inline void fetch_tiles(int t, int m0, int n0, int k0, int M, int N, int k_end,
                                             const LoadA& load_a, const LoadB& load_b, T (&ra)[Tile::a_per_thread],
                                             T (&rb)[Tile::b_per_thread]) {
  MODELMIX_UNROLL
  for (int u = 0; u < Tile::a_per_thread; ++u) {
    int mm, kk;
    tile_coord<Tile::a_order, Tile::BM, Tile::BK, Tile::threads>(t, u, mm, kk);
    ra[u] = (m0 + mm < M && k0 + kk < k_end) ? load_a(m0 + mm, k0 + kk) : T(0);
  }
  MODELMIX_UNROLL
  for (int u = 0; u < Tile::b_per_thread; ++u) {
    int nn, kk;
    tile_coord<Tile::b_order, Tile::BN, Tile::BK, Tile::threads>(t, u, nn, kk);
    rb[u] = (n0 + nn < N && k0 + kk < k_end) ? load_b(k0 + kk, n0 + nn) : T(0);
  }
}

template <class Tile, class T>
MODELMIX_HOST_DEVICE inline void store_tiles(int t, gemm_smem<Tile, T>& sm, int buf, const T (&ra)[Tile::a_per_thread],
                                             const T (&rb)[Tile::b_per_thread]) {
  MODELMIX_UNROLL
  for (int u = 0; u < Tile::a_per_thread; ++u) {
    int mm, kk;
    tile_coord<Tile::a_order, Tile::BM, Tile::BK, Tile::threads>(t, u, mm, kk);
    sm.a[buf][kk][mm] = ra[u];
  }
  MODELMIX_UNROLL
  for (int u = 0; u < Tile::b_per_thread; ++u) {
    int nn, kk;
    tile_coord<Tile::b_order, Tile::BN, Tile::BK, Tile::threads>(t, u, nn, kk);
    sm.b[buf][kk][nn] = rb[u];
  }
}

}  // namespace detail

// acc[i][j] += Σ_{k in [k_begin, k_end)} A(m0 + ty + i·TY, k) · B(k, n0 + tx + j·TX).
// Every thread of the block must call it with the same m0, n0, k_begin, k_end (block-uniform
// control flow: the barriers inside are reached by all threads the same number of times).
template <class Tile, class T, class Ctx, class LoadA, class LoadB>
MODELMIX_HOST_DEVICE inline void gemm_mainloop(const Ctx& ctx, gemm_smem<Tile, T>& sm, int m0, int n0, int M, int N,
                                               int k_begin, int k_end, const LoadA& load_a, const LoadB& load_b,
                                               T (&acc)[Tile::TM][Tile::TN]) {
  const int t = ctx.linear_thread(), tx = t % Tile::TX, ty = t / Tile::TX;
  if (k_begin < k_end) {  // block-uniform: all threads skip the barriers together
    T ra[Tile::a_per_thread], rb[Tile::b_per_thread];
    detail::fetch_tiles<Tile>(t, m0, n0, k_begin, M, N, k_end, load_a, load_b, ra, rb);
    detail::store_tiles<Tile>(t, sm, 0, ra, rb);
    ctx.sync();
    int buf = 0;
    for (int k0 = k_begin; k0 < k_end; k0 += Tile::BK) {
      const bool more = k0 + Tile::BK < k_end;  // block-uniform
      if (more) detail::fetch_tiles<Tile>(t, m0, n0, k0 + Tile::BK, M, N, k_end, load_a, load_b, ra, rb);
      MODELMIX_UNROLL
      for (int kk = 0; kk < Tile::BK; ++kk) {
        T a[Tile::TM], b[Tile::TN];
        MODELMIX_UNROLL
        for (int i = 0; i < Tile::TM; ++i) a[i] = sm.a[buf][kk][ty + i * Tile::TY];
        MODELMIX_UNROLL
        for (int j = 0; j < Tile::TN; ++j) b[j] = sm.b[buf][kk][tx + j * Tile::TX];
        MODELMIX_UNROLL
        for (int i = 0; i < Tile::TM; ++i)
          MODELMIX_UNROLL
          for (int j = 0; j < Tile::TN; ++j) acc[i][j] += a[i] * b[j];
      }
      if (more) {
        // buf ^ 1 was last read in the previous step, which every thread finished before the
        // previous barrier; after this barrier every thread sees the new tile.
        detail::store_tiles<Tile>(t, sm, buf ^ 1, ra, rb);
        ctx.sync();
        buf ^= 1;
      }
    }
  }
}

// Block tiles over an M × N output: grid (ceil(N/BN), ceil(M/BM), z).
template <class Tile>
inline idx3 gemm_grid(int M, int N, int z = 1) {
  return {(N + Tile::BN - 1) / Tile::BN, (M + Tile::BM - 1) / Tile::BM, z};
}

}  // namespace modelmix::ops::cuda
