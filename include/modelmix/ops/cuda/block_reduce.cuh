#pragma once
// Fixed-order block reductions for the reproducible (atomic-free) epilogues.
//
//   block_sum: v[i] ← Σ_{threads of the block} v[i] for every i set in `mask`, valid in
//   thread 0. Order: xor butterfly over the 32 lanes of each warp (all lanes end with the same
//   bits), then warps 0, 1, … in order. Same inputs → same bits, run after run.
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

template <int Threads, class T, int Width>
struct block_sum_smem {
  static_assert(Threads % warp_size == 0, "block size must be a multiple of 32");
  T warp[Threads / warp_size][Width];
};

// Every thread of the block must call it (it holds a barrier); `mask` must be block-uniform.
template <int Threads, class T, int Width, class Ctx>
MODELMIX_HOST_DEVICE inline void block_sum(const Ctx& ctx, block_sum_smem<Threads, T, Width>& sm, T (&v)[Width],
                                           unsigned mask) {
  const int t = ctx.linear_thread(), w = t / warp_size;
  MODELMIX_UNROLL
  for (int i = 0; i < Width; ++i)
    if (mask & (1u << i))
      MODELMIX_UNROLL
      for (int off = warp_size / 2; off > 0; off /= 2) v[i] += ctx.shfl_xor(v[i], off);
  if (ctx.lane() == 0)
    MODELMIX_UNROLL
    for (int i = 0; i < Width; ++i) sm.warp[w][i] = v[i];
  ctx.sync();
  if (t == 0)
    MODELMIX_UNROLL
    for (int i = 0; i < Width; ++i) {
      T sum = T(0);
      for (int u = 0; u < Threads / warp_size; ++u) sum += sm.warp[u][i];
      v[i] = sum;
    }
}

}  // namespace modelmix::ops::cuda
