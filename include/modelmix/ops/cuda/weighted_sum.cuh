#pragma once
// Materialize the mixed parameters (the naive baseline's first step), grid-stride:
//
//   out[j] = Σ_i c_i·θ_i[j],  j < n     θ_i = W_i (n = weight_numel) or b_i (n = bias_numel)
//
// A kernel_spec holds at most Max terms; a longer spec (the fallback path for more than
// max_fused_terms parents) runs as chunks of Max terms: the first chunk writes `out`, each
// further chunk adds to it (accumulate = true), in term order.
// Any 1D grid of blocks of any multiple of 32 threads; weighted_sum_threads is the launch size.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

inline constexpr int weighted_sum_threads = 256;

inline idx3 weighted_sum_grid(int n) {
  const int blocks = (n + weighted_sum_threads - 1) / weighted_sum_threads;
  return {blocks < 1 ? 1 : (blocks > 4096 ? 4096 : blocks), 1, 1};
}

// The spec's terms in chunks of at most Max, in order (host).
template <int Max, class T>
std::vector<mixing::kernel_spec<T, Max>> kernel_spec_chunks(const mixing::spec<T>& spec) {
  std::vector<mixing::kernel_spec<T, Max>> chunks;
  for (std::size_t first = 0; first < spec.terms.size(); first += Max) {
    mixing::spec<T> part;
    part.weight_numel = spec.weight_numel;
    part.bias_numel = spec.bias_numel;
    const std::size_t last = std::min(spec.terms.size(), first + std::size_t(Max));
    part.terms.assign(spec.terms.begin() + std::ptrdiff_t(first), spec.terms.begin() + std::ptrdiff_t(last));
    chunks.push_back(mixing::to_kernel_spec<Max>(part));
  }
  return chunks;
}

template <class T, int Max, class Ctx>
MODELMIX_HOST_DEVICE void weighted_sum_body(const Ctx& ctx, const mixing::kernel_spec<T, Max>& spec, bool bias,
                                            bool accumulate, T* out) {
  const int n = bias ? spec.bias_numel : spec.weight_numel;
  const int stride = ctx.block_dim().x * ctx.grid_dim().x;
  for (int j = ctx.block().x * ctx.block_dim().x + ctx.linear_thread(); j < n; j += stride) {
    T v = accumulate ? out[j] : T(0);
    MODELMIX_UNROLL
    for (int i = 0; i < Max; ++i)
      if (i < spec.count) v = mixing::accumulate(v, spec.coeff[i], (bias ? spec.bias[i] : spec.weight[i])[j]);
    out[j] = v;
  }
}

}  // namespace modelmix::ops::cuda
