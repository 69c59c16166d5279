#pragma once
// Mixed conv2d weight, bias and coefficient gradients: split-K implicit GEMM into a workspace,
// then fixed-order reductions (no float atomics: bitwise reproducible run to run).
//
//   dW[k,c,r,s] = Σ_{n,p,q} dy[n,k,p,q] · x[n, c, p·sh − ph + r, q·sw − pw + s]     db[k] = Σ_{n,p,q} dy[n,k,p,q]
//   grad_weight_i += c_i·dW     grad_bias_i += c_i·db     grad_coeff_i += ⟨dW, W_i⟩ + ⟨db, b_i⟩
//
// Four kernels, in stream order (wgrad_plan says which run and lays out the workspace):
//  1. gemm    GEMM M = K, N = C·R·S (col = (c,r,s)), Kd = N·P·Q split into `splits` ranges
//             of split_len (a multiple of BK). Grid (ceil(CRS/BN), ceil(K/BM), splits).
//             partial[z][k·CRS + col] = Σ_{j in split z} dy[k, j] · im2col(x)[col, j]
//  2. reduce  1D grid-stride over e < K·CRS: dW[e] = Σ_{z = 0, 1, …} partial[z][e] (in order);
//             grad_weight_i[e] += c_i·dW[e] (non-null i); per-block partial of ⟨dW, W_i⟩ via
//             block_sum into dots[block][i].
//  3. bias    one block per k: db[k] by block_sum over n,p,q (fixed thread strides);
//             grad_bias_i[k] += c_i·db[k]; dots[reduce_blocks + k][i] = db[k]·b_i[k].
//  4. coeff   one block: grad_coeff_i += Σ_{rows in order} dots[row][i] (block_sum).
// A term's W_i / b_i are read only when its grad_coeff is non-null (they may be null otherwise).
#include <algorithm>
#include <climits>
#include <cstddef>

#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/cuda/block_reduce.cuh"
#include "modelmix/ops/cuda/implicit_gemm.cuh"
#include "modelmix/ops/cuda/mixed_conv2d_fprop.cuh"

namespace modelmix::ops::cuda {

using wgrad_tile = gemm_tile<64, 64, 8, 4, 4, tile_order::k_fast, tile_order::k_fast>;
inline constexpr int wgrad_reduce_threads = 128;

// A[k, j] = dy[n, k, p, q] with j = (n, p, q).
template <class T>
struct dy_rows {
  const conv_shape& s;
  const T* dy;
  MODELMIX_HOST_DEVICE T operator()(int k, int j) const {
    const int n = j / s.PQ(), pq = j - n * s.PQ();
    return dy[(n * s.K + k) * s.PQ() + pq];
  }
};

// B[j, col] = im2col(x)[col, j]: fprop's operand read transposed.
template <class T>
struct im2col_rows {
  im2col_columns<T> im2col;
  MODELMIX_HOST_DEVICE T operator()(int j, int col) const { return im2col(col, j); }
};

// Bit i set: term i wants a coefficient gradient (block-uniform).
template <class T, int Max>
MODELMIX_HOST_DEVICE inline unsigned coeff_mask(const mixing::kernel_spec<T, Max>& spec) {
  unsigned mask = 0;
  MODELMIX_UNROLL
  for (int i = 0; i < Max; ++i)
    if (i < spec.count && spec.grad_coeff[i]) mask |= 1u << i;
  return mask;
}

// Which kernels run, their grids and the workspace layout (floats):
//   [0, partial_floats)                 partial[splits][K·CRS]
//   [partial_floats, + dot_rows·Max)     dots[dot_rows][Max]: reduce blocks, then K bias rows
struct wgrad_plan {
  bool weight = false, bias = false, coeff = false;
  int splits = 1, split_len = 0;
  idx3 gemm_grid;
  int reduce_blocks = 0;
  std::size_t partial_floats = 0;
  int dot_rows = 0;
  int bias_row0 = 0;  // first dots row of the bias kernel
  [[nodiscard]] std::size_t workspace_floats(int max_terms) const {
    return partial_floats + std::size_t(dot_rows) * std::size_t(max_terms);
  }
};

// `splits` = 0 picks a split count that gives the GPU about 2 waves of 132 SMs; tests pass one.
template <class T, int Max, class Tile = wgrad_tile>
inline wgrad_plan make_wgrad_plan(const conv_shape& s, const mixing::kernel_spec<T, Max>& spec, int splits = 0) {
  wgrad_plan plan;
  for (int i = 0; i < spec.count; ++i) {
    plan.weight = plan.weight || spec.grad_weight[i] || spec.grad_coeff[i];
    plan.bias = plan.bias || (spec.bias_numel > 0 && (spec.grad_bias[i] || (spec.grad_coeff[i] && spec.bias[i])));
    plan.coeff = plan.coeff || spec.grad_coeff[i];
  }
  const int numel = s.K * s.CRS();
  if (plan.weight) {
    const idx3 tiles = gemm_grid<Tile>(s.K, s.CRS());
    const int k_steps = (s.NPQ() + Tile::BK - 1) / Tile::BK;
    if (splits <= 0) splits = (2 * 132 + tiles.x * tiles.y - 1) / (tiles.x * tiles.y);
    splits = std::clamp(std::min(splits, INT_MAX / numel), 1, std::min(k_steps, 64));
    plan.split_len = (k_steps + splits - 1) / splits * Tile::BK;
    plan.splits = (s.NPQ() + plan.split_len - 1) / plan.split_len;  // no empty split
    plan.gemm_grid = gemm_grid<Tile>(s.K, s.CRS(), plan.splits);
    plan.reduce_blocks = std::min((numel + wgrad_reduce_threads - 1) / wgrad_reduce_threads, 1024);
    plan.partial_floats = std::size_t(plan.splits) * std::size_t(numel);
  }
  plan.bias_row0 = plan.weight ? plan.reduce_blocks : 0;
  plan.dot_rows = plan.bias_row0 + (plan.bias ? s.K : 0);
  return plan;
}

// Kernel 1. partial[z][k·CRS + col] for the N·P·Q range [z·split_len, (z+1)·split_len).
template <class Tile, class T, class Ctx>
MODELMIX_HOST_DEVICE void mixed_conv2d_wgrad_gemm_body(const Ctx& ctx, gemm_smem<Tile, T>& sm, const conv_shape& s,
                                                       const T* x, const T* dy, int split_len, T* partial) {
  const int m0 = ctx.block().y * Tile::BM, n0 = ctx.block().x * Tile::BN, z = ctx.block().z;
  const int t = ctx.linear_thread(), tx = t % Tile::TX, ty = t / Tile::TX;
  const int k_begin = z * split_len, k_end = k_begin + split_len < s.NPQ() ? k_begin + split_len : s.NPQ();
  T acc[Tile::TM][Tile::TN] = {};
  gemm_mainloop<Tile>(ctx, sm, m0, n0, s.K, s.CRS(), k_begin, k_end, dy_rows<T>{s, dy},
                      im2col_rows<T>{im2col_columns<T>{s, x}}, acc);
  T* out = partial + z * (s.K * s.CRS());
  MODELMIX_UNROLL
  for (int i = 0; i < Tile::TM; ++i) {
    const int m = m0 + ty + i * Tile::TY;
    if (m >= s.K) continue;
    MODELMIX_UNROLL
    for (int j = 0; j < Tile::TN; ++j) {
      const int col = n0 + tx + j * Tile::TX;
      if (col < s.CRS()) out[m * s.CRS() + col] = acc[i][j];
    }
  }
}

// Kernel 2. 1D grid of wgrad_plan::reduce_blocks blocks of Threads threads; numel = K·CRS.
template <int Threads, class T, int Max, class Ctx>
MODELMIX_HOST_DEVICE void mixed_conv2d_wgrad_reduce_body(const Ctx& ctx, block_sum_smem<Threads, T, Max>& sm, int numel,
                                                         int splits, const T* partial, const mixing::kernel_spec<T, Max>& spec,
                                                         T* dots) {
  const int t = ctx.linear_thread(), b = ctx.block().x, stride = Threads * ctx.grid_dim().x;
  T part[Max] = {};  // this thread's share of ⟨dW, W_i⟩
  for (int e = b * Threads + t; e < numel; e += stride) {
    T d = T(0);
    for (int z = 0; z < splits; ++z) d += partial[z * numel + e];  // fixed order
    MODELMIX_UNROLL
    for (int i = 0; i < Max; ++i) {
      if (i >= spec.count) continue;
      if (spec.grad_weight[i]) spec.grad_weight[i][e] += spec.coeff[i] * d;
      if (spec.grad_coeff[i]) part[i] += d * spec.weight[i][e];
    }
  }
  // Every thread reaches this barrier: the loop above has no early exit.
  block_sum(ctx, sm, part, coeff_mask(spec));
  if (t == 0)
    MODELMIX_UNROLL
    for (int i = 0; i < Max; ++i) dots[b * Max + i] = (coeff_mask(spec) >> i) & 1u ? part[i] : T(0);
}

// Kernel 3. One block of Threads threads per output channel k (grid K); dots = rows of the bias kernel.
template <int Threads, class T, int Max, class Ctx>
MODELMIX_HOST_DEVICE void mixed_conv2d_wgrad_bias_body(const Ctx& ctx, block_sum_smem<Threads, T, 1>& sm,
                                                       const conv_shape& s, const T* dy,
                                                       const mixing::kernel_spec<T, Max>& spec, T* dots) {
  const int t = ctx.linear_thread(), k = ctx.block().x;
  T db[1] = {T(0)};
  for (int j = t; j < s.NPQ(); j += Threads) {
    const int n = j / s.PQ(), pq = j - n * s.PQ();
    db[0] += dy[(n * s.K + k) * s.PQ() + pq];
  }
  block_sum(ctx, sm, db, 1u);
  if (t == 0)
    MODELMIX_UNROLL
    for (int i = 0; i < Max; ++i) {
      T dot = T(0);
      if (i < spec.count) {
        if (spec.grad_bias[i]) spec.grad_bias[i][k] += spec.coeff[i] * db[0];
        if (spec.grad_coeff[i] && spec.bias[i]) dot = db[0] * spec.bias[i][k];
      }
      dots[k * Max + i] = dot;
    }
}

// Kernel 4. One block: grad_coeff_i += Σ_{row < rows} dots[row][i], rows summed in a fixed order.
template <int Threads, class T, int Max, class Ctx>
MODELMIX_HOST_DEVICE void mixed_conv2d_wgrad_coeff_body(const Ctx& ctx, block_sum_smem<Threads, T, Max>& sm, int rows,
                                                        const T* dots, const mixing::kernel_spec<T, Max>& spec) {
  const int t = ctx.linear_thread();
  T part[Max] = {};
  for (int row = t; row < rows; row += Threads)
    MODELMIX_UNROLL
    for (int i = 0; i < Max; ++i) part[i] += dots[row * Max + i];
  const unsigned mask = coeff_mask(spec);
  block_sum(ctx, sm, part, mask);
  if (t == 0)
    MODELMIX_UNROLL
    for (int i = 0; i < Max; ++i)
      if ((mask >> i) & 1u) *spec.grad_coeff[i] += part[i];
}

}  // namespace modelmix::ops::cuda
