// The float launches of ops/cuda/conv2d.hpp (the fused mixed convolution), written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/mixed_conv2d.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
//
// Every kernel body is a template in ops/cuda/mixed_conv2d_*.cuh / weighted_sum.cuh; here they
// are wrapped as functors. `max_threads` gives the GPU build its __launch_bounds__ (the block
// size each body is tuned for), which caps registers so that the whole block fits an SM.
#include <climits>

#include "modelmix/core/error.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/conv2d_spec.hpp"
#include "modelmix/ops/cuda/conv2d.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/mixed_conv2d_dgrad.cuh"
#include "modelmix/ops/cuda/mixed_conv2d_fprop.cuh"
#include "modelmix/ops/cuda/mixed_conv2d_wgrad.cuh"
#include "modelmix/ops/cuda/weighted_sum.cuh"

namespace modelmix::ops::cuda {
namespace {

using spec_f = mixing::kernel_spec<float, max_fused_terms>;
constexpr int reduce_threads = wgrad_reduce_threads;

struct mixed_conv2d_fprop_kernel {
  static constexpr int max_threads = fprop_tile::threads;
  conv_shape s;
  const float* x;
  float* y;
  spec_f spec;
  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem& sm) const {
    mixed_conv2d_fprop_body<fprop_tile>(ctx, sm, s, x, y, spec);
  }
};

struct mixed_conv2d_dgrad_kernel {
  static constexpr int max_threads = dgrad_tile::threads;
  conv_shape s;
  const float* dy;
  float* dx;
  spec_f spec;
  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem& sm) const {
    mixed_conv2d_dgrad_body<dgrad_tile>(ctx, sm, s, dy, dx, spec);
  }
};

struct mixed_conv2d_wgrad_gemm_kernel {
  static constexpr int max_threads = wgrad_tile::threads;
  conv_shape s;
  const float* x;
  const float* dy;
  int split_len;
  float* partial;
  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem& sm) const {
    mixed_conv2d_wgrad_gemm_body<wgrad_tile>(ctx, sm, s, x, dy, split_len, partial);
  }
};

struct mixed_conv2d_wgrad_reduce_kernel {
  static constexpr int max_threads = reduce_threads;
  int numel, splits;
  const float* partial;
  spec_f spec;
  float* dots;
  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem& sm) const {
    mixed_conv2d_wgrad_reduce_body<reduce_threads>(ctx, sm, numel, splits, partial, spec, dots);
  }
};

struct mixed_conv2d_wgrad_bias_kernel {
  static constexpr int max_threads = reduce_threads;
  conv_shape s;
  const float* dy;
  spec_f spec;
  float* dots;
  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem& sm) const {
    mixed_conv2d_wgrad_bias_body<reduce_threads>(ctx, sm, s, dy, spec, dots);
  }
};

struct mixed_conv2d_wgrad_coeff_kernel {
  static constexpr int max_threads = reduce_threads;
  int rows;
  const float* dots;
  spec_f spec;
  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem& sm) const {
    mixed_conv2d_wgrad_coeff_body<reduce_threads>(ctx, sm, rows, dots, spec);
  }
};

struct weighted_sum_kernel {
  static constexpr int max_threads = weighted_sum_threads;
  spec_f spec;
  bool bias, accumulate;
  float* out;
  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    weighted_sum_body(ctx, spec, bias, accumulate, out);
  }
};

void require(const char* op, const conv2d_problem& problem, const mixing::spec<float>& spec, conv2d_role role) {
  check_conv2d_spec(op, problem, spec, role);
  MODELMIX_REQUIRE(can_implement(problem, spec), op, ": the fused kernels cannot take ", problem.str(), " with ",
                   spec.terms.size(), " terms (at most ", max_fused_terms, " terms, 32-bit sizes)");
}

}  // namespace

bool can_implement(const conv2d_problem& p, const mixing::spec<float>& spec) {
  if (p.N <= 0 || p.C <= 0 || p.H <= 0 || p.W <= 0 || p.K <= 0 || p.R <= 0 || p.S <= 0 || p.stride_h <= 0 ||
      p.stride_w <= 0 || p.pad_h < 0 || p.pad_w < 0 || p.H + 2 * p.pad_h < p.R || p.W + 2 * p.pad_w < p.S)
    return false;
  if (!fits_32bit(p) || !mixing::fits_kernel_spec<max_fused_terms>(spec)) return false;
  if (spec.weight_numel != p.K * p.C * p.R * p.S || (spec.bias_numel != 0 && spec.bias_numel != p.K)) return false;
  // gridDim.y ≤ 65535 (blocks over K for fprop/wgrad, over C for dgrad); x is at most INT_MAX.
  const index_t max_y = 65535;
  return (p.K + fprop_tile::BM - 1) / fprop_tile::BM <= max_y && (p.C + dgrad_tile::BM - 1) / dgrad_tile::BM <= max_y &&
         (p.K + wgrad_tile::BM - 1) / wgrad_tile::BM <= max_y;
}

void conv2d_fprop(const conv2d_problem& problem, const float* x, float* y, const mixing::spec<float>& spec) {
  require("cuda::conv2d_fprop", problem, spec, conv2d_role::fprop);
  const conv_shape s = make_conv_shape(problem);
  launch<gemm_smem<fprop_tile, float>>("mixed_conv2d_fprop", fprop_grid(s), {fprop_tile::threads, 1, 1},
                                       mixed_conv2d_fprop_kernel{s, x, y, mixing::to_kernel_spec<max_fused_terms>(spec)});
}

void conv2d_dgrad(const conv2d_problem& problem, const float* dy, float* dx, const mixing::spec<float>& spec) {
  require("cuda::conv2d_dgrad", problem, spec, conv2d_role::dgrad);
  const conv_shape s = make_conv_shape(problem);
  launch<gemm_smem<dgrad_tile, float>>("mixed_conv2d_dgrad", dgrad_grid(s), {dgrad_tile::threads, 1, 1},
                                       mixed_conv2d_dgrad_kernel{s, dy, dx, mixing::to_kernel_spec<max_fused_terms>(spec)});
}

void conv2d_wgrad(const conv2d_problem& problem, const float* x, const float* dy, const mixing::spec<float>& spec,
                  int splits) {
  require("cuda::conv2d_wgrad", problem, spec, conv2d_role::wgrad);
  const conv_shape s = make_conv_shape(problem);
  const spec_f ks = mixing::to_kernel_spec<max_fused_terms>(spec);
  const wgrad_plan plan = make_wgrad_plan(s, ks, splits);
  if (!plan.weight && !plan.bias) return;  // no gradient wanted
  // Not cleared: every slot is written before it is read (the emulated device's workspace is
  // NaN-filled when it grows, so a slot read first would show).
  float* partial = static_cast<float*>(
      modelmix::cuda::context::current().workspace(plan.workspace_floats(max_fused_terms) * sizeof(float)));
  float* dots = partial + plan.partial_floats;
  if (plan.weight) {
    launch<gemm_smem<wgrad_tile, float>>("mixed_conv2d_wgrad_gemm", plan.gemm_grid, {wgrad_tile::threads, 1, 1},
                                         mixed_conv2d_wgrad_gemm_kernel{s, x, dy, plan.split_len, partial});
    launch<block_sum_smem<reduce_threads, float, max_fused_terms>>(
        "mixed_conv2d_wgrad_reduce", {plan.reduce_blocks, 1, 1}, {reduce_threads, 1, 1},
        mixed_conv2d_wgrad_reduce_kernel{s.K * s.CRS(), plan.splits, partial, ks, dots});
  }
  if (plan.bias)
    launch<block_sum_smem<reduce_threads, float, 1>>(
        "mixed_conv2d_wgrad_bias", {s.K, 1, 1}, {reduce_threads, 1, 1},
        mixed_conv2d_wgrad_bias_kernel{s, dy, ks, dots + std::size_t(plan.bias_row0) * max_fused_terms});
  if (plan.coeff)
    launch<block_sum_smem<reduce_threads, float, max_fused_terms>>("mixed_conv2d_wgrad_coeff", {1, 1, 1},
                                                                   {reduce_threads, 1, 1},
                                                                   mixed_conv2d_wgrad_coeff_kernel{plan.dot_rows, dots, ks});
}

// Any number of terms (this is also the fallback for specs the fused kernels refuse): chunks
// of max_fused_terms, the first writing, the others adding, in order on one stream.
void materialize(const mixing::spec<float>& spec, float* weight, float* bias) {
  MODELMIX_REQUIRE(!spec.terms.empty(), "cuda::materialize: the mix spec has no terms");
  kernel_count("cuda::materialize", {spec.weight_numel});
  kernel_count("cuda::materialize", {spec.bias_numel});
  for (std::size_t i = 0; i < spec.terms.size(); ++i) {
    MODELMIX_REQUIRE(spec.terms[i].weight, "cuda::materialize: term ", i, " has no weight");
    MODELMIX_REQUIRE(!spec.has_bias() || spec.terms[i].bias, "cuda::materialize: term ", i, " has no bias");
  }
  bool accumulate = false;
  for (const spec_f& ks : kernel_spec_chunks<max_fused_terms>(spec)) {
    launch("weighted_sum (weight)", weighted_sum_grid(ks.weight_numel), {weighted_sum_threads, 1, 1},
           weighted_sum_kernel{ks, false, accumulate, weight});
    if (spec.has_bias())
      launch("weighted_sum (bias)", weighted_sum_grid(ks.bias_numel), {weighted_sum_threads, 1, 1},
             weighted_sum_kernel{ks, true, accumulate, bias});
    accumulate = true;
  }
}

}  // namespace modelmix::ops::cuda
