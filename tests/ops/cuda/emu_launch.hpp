#pragma once
// The launches of src/cuda/mixed_conv2d.cu, on the CPU grid emulator: same bodies, same tile
// configurations, same grids and the same wgrad plan, with host vectors for device memory.
#include <vector>

#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/conv2d_problem.hpp"
#include "modelmix/ops/cuda/mixed_conv2d_dgrad.cuh"
#include "modelmix/ops/cuda/mixed_conv2d_fprop.cuh"
#include "modelmix/ops/cuda/mixed_conv2d_wgrad.cuh"
#include "modelmix/ops/cuda/weighted_sum.cuh"
#include "support/grid_emu.hpp"

namespace modelmix::test::emu {

inline constexpr int max_terms = 8;  // ops::cuda::max_fused_terms
using spec_f = mixing::kernel_spec<float, max_terms>;

inline void conv2d_fprop(const ops::conv2d_problem& p, const float* x, float* y, const mixing::spec<float>& spec) {
  using namespace ops::cuda;
  const conv_shape s = make_conv_shape(p);
  const spec_f ks = mixing::to_kernel_spec<max_terms>(spec);
  launch<gemm_smem<fprop_tile, float>>(fprop_grid(s), {fprop_tile::threads, 1, 1}, [&](const ctx& c, auto& sm) {
    mixed_conv2d_fprop_body<fprop_tile>(c, sm, s, x, y, ks);
  });
}

inline void conv2d_dgrad(const ops::conv2d_problem& p, const float* dy, float* dx, const mixing::spec<float>& spec) {
  using namespace ops::cuda;
  const conv_shape s = make_conv_shape(p);
  const spec_f ks = mixing::to_kernel_spec<max_terms>(spec);
  launch<gemm_smem<dgrad_tile, float>>(dgrad_grid(s), {dgrad_tile::threads, 1, 1}, [&](const ctx& c, auto& sm) {
    mixed_conv2d_dgrad_body<dgrad_tile>(c, sm, s, dy, dx, ks);
  });
}

// splits = 0: the plan's own choice (what the GPU path runs).
inline void conv2d_wgrad(const ops::conv2d_problem& p, const float* x, const float* dy, const mixing::spec<float>& spec,
                         int splits = 0) {
  using namespace ops::cuda;
  constexpr int threads = wgrad_reduce_threads;
  const conv_shape s = make_conv_shape(p);
  const spec_f ks = mixing::to_kernel_spec<max_terms>(spec);
  const wgrad_plan plan = make_wgrad_plan(s, ks, splits);
  if (!plan.weight && !plan.bias) return;
  // The workspace is not cleared on a GPU either: NaNs show any slot read before it is written.
  std::vector<float> ws(plan.workspace_floats(max_terms), std::numeric_limits<float>::quiet_NaN());
  float* partial = ws.data();
  float* dots = partial + plan.partial_floats;
  if (plan.weight) {
    launch<gemm_smem<wgrad_tile, float>>(plan.gemm_grid, {wgrad_tile::threads, 1, 1}, [&](const ctx& c, auto& sm) {
      mixed_conv2d_wgrad_gemm_body<wgrad_tile>(c, sm, s, x, dy, plan.split_len, partial);
    });
    launch<block_sum_smem<threads, float, max_terms>>({plan.reduce_blocks, 1, 1}, {threads, 1, 1},
                                                      [&](const ctx& c, auto& sm) {
                                                        mixed_conv2d_wgrad_reduce_body<threads>(
                                                            c, sm, s.K * s.CRS(), plan.splits, partial, ks, dots);
                                                      });
  }
  if (plan.bias)
    launch<block_sum_smem<threads, float, 1>>({s.K, 1, 1}, {threads, 1, 1}, [&](const ctx& c, auto& sm) {
      mixed_conv2d_wgrad_bias_body<threads>(c, sm, s, dy, ks, dots + plan.bias_row0 * max_terms);
    });
  if (plan.coeff)
    launch<block_sum_smem<threads, float, max_terms>>({1, 1, 1}, {threads, 1, 1}, [&](const ctx& c, auto& sm) {
      mixed_conv2d_wgrad_coeff_body<threads>(c, sm, plan.dot_rows, dots, ks);
    });
}

// Any number of terms, in chunks of max_terms like the launch code.
inline void materialize(const mixing::spec<float>& spec, float* weight, float* bias) {
  using namespace ops::cuda;
  bool accumulate = false;
  for (const spec_f& ks : kernel_spec_chunks<max_terms>(spec)) {
    launch(weighted_sum_grid(ks.weight_numel), {weighted_sum_threads, 1, 1},
           [&](const ctx& c, no_shared&) { weighted_sum_body(c, ks, false, accumulate, weight); });
    if (spec.has_bias())
      launch(weighted_sum_grid(ks.bias_numel), {weighted_sum_threads, 1, 1},
             [&](const ctx& c, no_shared&) { weighted_sum_body(c, ks, true, accumulate, bias); });
    accumulate = true;
  }
}

}  // namespace modelmix::test::emu
