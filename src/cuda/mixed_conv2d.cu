// The fused mixed-convolution kernels as CUDA kernels, and the float launches behind
// ops/cuda/conv2d.hpp. Only launch code lives here: every kernel body is a template in
// include/modelmix/ops/cuda/*.cuh, which the emulator tests (tests/ops/cuda) run on the CPU.
#include <cuda_runtime.h>

#include <climits>

#include "modelmix/cuda/check.cuh"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/conv2d_spec.hpp"
#include "modelmix/ops/cuda/conv2d.hpp"
#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "modelmix/ops/cuda/mixed_conv2d_dgrad.cuh"
#include "modelmix/ops/cuda/mixed_conv2d_fprop.cuh"
#include "modelmix/ops/cuda/mixed_conv2d_wgrad.cuh"
#include "modelmix/ops/cuda/weighted_sum.cuh"

namespace modelmix::ops::cuda {
namespace {

using spec_f = mixing::kernel_spec<float, max_fused_terms>;
constexpr int reduce_threads = wgrad_reduce_threads;

// __grid_constant__: bodies take the shape and the spec by reference without a local copy.
__global__ void __launch_bounds__(fprop_tile::threads)
    mixed_conv2d_fprop_kernel(const __grid_constant__ conv_shape s, const float* __restrict__ x,
                              float* __restrict__ y, const __grid_constant__ spec_f spec) {
  __shared__ gemm_smem<fprop_tile, float> sm;
  mixed_conv2d_fprop_body<fprop_tile>(device_ctx{}, sm, s, x, y, spec);
}

__global__ void __launch_bounds__(dgrad_tile::threads)
    mixed_conv2d_dgrad_kernel(const __grid_constant__ conv_shape s, const float* __restrict__ dy,
                              float* __restrict__ dx, const __grid_constant__ spec_f spec) {
  __shared__ gemm_smem<dgrad_tile, float> sm;
  mixed_conv2d_dgrad_body<dgrad_tile>(device_ctx{}, sm, s, dy, dx, spec);
}

__global__ void __launch_bounds__(wgrad_tile::threads)
    mixed_conv2d_wgrad_gemm_kernel(const __grid_constant__ conv_shape s, const float* __restrict__ x,
                                   const float* __restrict__ dy, int split_len, float* __restrict__ partial) {
  __shared__ gemm_smem<wgrad_tile, float> sm;
  mixed_conv2d_wgrad_gemm_body<wgrad_tile>(device_ctx{}, sm, s, x, dy, split_len, partial);
}

__global__ void __launch_bounds__(reduce_threads)
    mixed_conv2d_wgrad_reduce_kernel(int numel, int splits, const float* __restrict__ partial,
                                     const __grid_constant__ spec_f spec, float* __restrict__ dots) {
  __shared__ block_sum_smem<reduce_threads, float, max_fused_terms> sm;
  mixed_conv2d_wgrad_reduce_body<reduce_threads>(device_ctx{}, sm, numel, splits, partial, spec, dots);
}

__global__ void __launch_bounds__(reduce_threads)
    mixed_conv2d_wgrad_bias_kernel(const __grid_constant__ conv_shape s, const float* __restrict__ dy,
                                   const __grid_constant__ spec_f spec, float* __restrict__ dots) {
  __shared__ block_sum_smem<reduce_threads, float, 1> sm;
  mixed_conv2d_wgrad_bias_body<reduce_threads>(device_ctx{}, sm, s, dy, spec, dots);
}

__global__ void __launch_bounds__(reduce_threads)
    mixed_conv2d_wgrad_coeff_kernel(int rows, const float* __restrict__ dots, const __grid_constant__ spec_f spec) {
  __shared__ block_sum_smem<reduce_threads, float, max_fused_terms> sm;
  mixed_conv2d_wgrad_coeff_body<reduce_threads>(device_ctx{}, sm, rows, dots, spec);
}

__global__ void __launch_bounds__(weighted_sum_threads)
    weighted_sum_kernel(const __grid_constant__ spec_f spec, bool bias, bool accumulate, float* __restrict__ out) {
  weighted_sum_body(device_ctx{}, spec, bias, accumulate, out);
}

dim3 to_dim3(idx3 v) { return dim3(unsigned(v.x), unsigned(v.y), unsigned(v.z)); }

cudaStream_t current_stream() { return static_cast<cudaStream_t>(modelmix::cuda::context::current().stream()); }

// A launch error (bad configuration, no kernel image for this device) names the kernel.
void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) modelmix::cuda::detail::throw_cuda_error(kernel, status);
}

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
  const spec_f ks = mixing::to_kernel_spec<max_fused_terms>(spec);
  mixed_conv2d_fprop_kernel<<<to_dim3(fprop_grid(s)), fprop_tile::threads, 0, current_stream()>>>(s, x, y, ks);
  check_launch("mixed_conv2d_fprop_kernel");
}

void conv2d_dgrad(const conv2d_problem& problem, const float* dy, float* dx, const mixing::spec<float>& spec) {
  require("cuda::conv2d_dgrad", problem, spec, conv2d_role::dgrad);
  const conv_shape s = make_conv_shape(problem);
  const spec_f ks = mixing::to_kernel_spec<max_fused_terms>(spec);
  mixed_conv2d_dgrad_kernel<<<to_dim3(dgrad_grid(s)), dgrad_tile::threads, 0, current_stream()>>>(s, dy, dx, ks);
  check_launch("mixed_conv2d_dgrad_kernel");
}

void conv2d_wgrad(const conv2d_problem& problem, const float* x, const float* dy, const mixing::spec<float>& spec) {
  require("cuda::conv2d_wgrad", problem, spec, conv2d_role::wgrad);
  const conv_shape s = make_conv_shape(problem);
  const spec_f ks = mixing::to_kernel_spec<max_fused_terms>(spec);
  const wgrad_plan plan = make_wgrad_plan(s, ks);
  if (!plan.weight && !plan.bias) return;  // no gradient wanted
  modelmix::cuda::context& context = modelmix::cuda::context::current();
  const cudaStream_t stream = static_cast<cudaStream_t>(context.stream());
  float* partial = static_cast<float*>(context.workspace(plan.workspace_floats(max_fused_terms) * sizeof(float)));
  float* dots = partial + plan.partial_floats;
  if (plan.weight) {
    mixed_conv2d_wgrad_gemm_kernel<<<to_dim3(plan.gemm_grid), wgrad_tile::threads, 0, stream>>>(s, x, dy, plan.split_len,
                                                                                               partial);
    check_launch("mixed_conv2d_wgrad_gemm_kernel");
    mixed_conv2d_wgrad_reduce_kernel<<<unsigned(plan.reduce_blocks), reduce_threads, 0, stream>>>(
        s.K * s.CRS(), plan.splits, partial, ks, dots);
    check_launch("mixed_conv2d_wgrad_reduce_kernel");
  }
  if (plan.bias) {
    mixed_conv2d_wgrad_bias_kernel<<<unsigned(s.K), reduce_threads, 0, stream>>>(
        s, dy, ks, dots + std::size_t(plan.bias_row0) * max_fused_terms);
    check_launch("mixed_conv2d_wgrad_bias_kernel");
  }
  if (plan.coeff) {
    mixed_conv2d_wgrad_coeff_kernel<<<1, reduce_threads, 0, stream>>>(plan.dot_rows, dots, ks);
    check_launch("mixed_conv2d_wgrad_coeff_kernel");
  }
}

// Any number of terms (this is also the fallback for specs the fused kernels refuse): chunks
// of max_fused_terms, the first writing, the others adding, in order on one stream.
void materialize(const mixing::spec<float>& spec, float* weight, float* bias) {
  MODELMIX_REQUIRE(!spec.terms.empty(), "cuda::materialize: the mix spec has no terms");
  MODELMIX_REQUIRE(spec.weight_numel <= INT_MAX && spec.bias_numel <= INT_MAX, "cuda::materialize: ",
                   spec.weight_numel, " weights do not fit 32-bit indices");
  for (std::size_t i = 0; i < spec.terms.size(); ++i) {
    MODELMIX_REQUIRE(spec.terms[i].weight, "cuda::materialize: term ", i, " has no weight");
    MODELMIX_REQUIRE(!spec.has_bias() || spec.terms[i].bias, "cuda::materialize: term ", i, " has no bias");
  }
  const cudaStream_t stream = current_stream();
  bool accumulate = false;
  for (const spec_f& ks : kernel_spec_chunks<max_fused_terms>(spec)) {
    weighted_sum_kernel<<<to_dim3(weighted_sum_grid(ks.weight_numel)), weighted_sum_threads, 0, stream>>>(
        ks, false, accumulate, weight);
    check_launch("weighted_sum_kernel (weight)");
    if (spec.has_bias()) {
      weighted_sum_kernel<<<to_dim3(weighted_sum_grid(ks.bias_numel)), weighted_sum_threads, 0, stream>>>(
          ks, true, accumulate, bias);
      check_launch("weighted_sum_kernel (bias)");
    }
    accumulate = true;
  }
}

}  // namespace modelmix::ops::cuda
