#pragma once
// Kernel bodies of ops/cuda/combine.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. The terms arrive as a
// mixing::kernel_spec of at most combine_max_terms; loops over them are unrolled so the spec's
// arrays are indexed with constants only (CUDA.md rule 8).
//
//   combine_kernel           grid-stride over j: out[j] = (accumulate ? out[j] : 0) + Σ_i c_i·θ_i[j]
//   combine_grad_kernel      grid-stride over j: grad_weight_i[j] += c_i·g[j], term order per j
//   combine_coeff_kernel     one block: each thread a strided double partial of every wanted
//                            ⟨g, θ_i⟩, block_sum in a fixed order, thread 0 adds them in term order
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/cuda/block_reduce.cuh"
#include "modelmix/ops/cuda/combine.hpp"
#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

inline constexpr int combine_max_terms = 8;
inline constexpr int combine_threads = elementwise_threads;
using combine_spec = mixing::kernel_spec<float, combine_max_terms>;

struct combine_kernel {
  combine_spec spec;
  float* out;
  bool accumulate;  // a later chunk of terms adds to the earlier chunks' sum

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const combine_spec& s = spec;
    float* out = this->out;
    const bool accumulate = this->accumulate;
    for_each_index(ctx, s.weight_numel, [&](int j) {
      float v = accumulate ? out[j] : 0.f;
      MODELMIX_UNROLL
      for (int i = 0; i < combine_max_terms; ++i)
        if (i < s.count) v = mixing::accumulate(v, s.coeff[i], s.weight[i][j]);
      out[j] = v;
    });
  }
};

struct combine_grad_kernel {
  combine_spec spec;
  const float* g;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const combine_spec& s = spec;
    const float* g = this->g;
    for_each_index(ctx, s.weight_numel, [&](int j) {
      const float gj = g[j];
      MODELMIX_UNROLL
      for (int i = 0; i < combine_max_terms; ++i)
        if (i < s.count && s.grad_weight[i]) s.grad_weight[i][j] += s.coeff[i] * gj;
    });
  }
};

struct combine_coeff_kernel {
  using smem = block_sum_smem<combine_threads, double, combine_max_terms>;
  combine_spec spec;
  const float* g;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const combine_spec& s = spec;
    const float* g = this->g;
    unsigned mask = 0;
    double v[combine_max_terms];
    MODELMIX_UNROLL
    for (int i = 0; i < combine_max_terms; ++i) {
      v[i] = 0.0;
      if (i < s.count && s.grad_coeff[i]) mask |= 1u << i;
    }
    for (int j = ctx.linear_thread(); j < s.weight_numel; j += combine_threads) {
      const double gj = double(g[j]);
      MODELMIX_UNROLL
      for (int i = 0; i < combine_max_terms; ++i)
        if (mask & (1u << i)) v[i] += gj * double(s.weight[i][j]);
    }
    block_sum(ctx, sm, v, mask);
    if (ctx.linear_thread() == 0)
      MODELMIX_UNROLL
      for (int i = 0; i < combine_max_terms; ++i)
        if (mask & (1u << i)) s.grad_coeff[i][0] += float(v[i]);
  }
};

}  // namespace modelmix::ops::cuda
