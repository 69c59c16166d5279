// The naive backward's last step (a baseline, kept simple):
//   grad_weight_i += c_i·dW      grad_bias_i += c_i·db      grad_coeff_i += ⟨dW, W_i⟩ + ⟨db, b_i⟩
// axpy is a grid-stride loop; each dot product is a fixed-size grid of per-block partial sums
// (shared-memory tree) finished by one block in a fixed order, so results are reproducible.
#include <cuda_runtime.h>

#include <limits>

#include "modelmix/cuda/check.cuh"
#include "modelmix/cuda/device_buffer.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/cudnn/conv2d.hpp"

namespace modelmix::ops::cudnn {

namespace {

constexpr int threads = 256;
constexpr int max_partial_blocks = 512;

__global__ void axpy_kernel(int n, float c, const float* __restrict__ src, float* __restrict__ dst) {
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x) dst[j] += c * src[j];
}

__device__ float block_sum(float v) {
  __shared__ float buf[threads];
  buf[threadIdx.x] = v;
  __syncthreads();
  for (int half = threads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) buf[threadIdx.x] += buf[threadIdx.x + half];
    __syncthreads();
  }
  return buf[0];
}

// partials[blockIdx.x] = Σ over this block's grid-stride share of a[j]·b[j].
__global__ void dot_partial_kernel(int n, const float* __restrict__ a, const float* __restrict__ b,
                                   float* __restrict__ partials) {
  float acc = 0.f;
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x) acc += a[j] * b[j];
  const float s = block_sum(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// *out += Σ partials[0..count), in a fixed order.
__global__ void finish_kernel(int count, const float* __restrict__ partials, float* __restrict__ out) {
  float acc = 0.f;
  for (int j = threadIdx.x; j < count; j += blockDim.x) acc += partials[j];
  const float s = block_sum(acc);
  if (threadIdx.x == 0) *out += s;
}

int blocks_for(int n, int cap) { return n <= 0 ? 1 : (n + threads - 1) / threads < cap ? (n + threads - 1) / threads : cap; }

int checked_int(index_t n) {
  MODELMIX_REQUIRE(n >= 0 && n <= std::numeric_limits<int>::max(), "cudnn::split_gradient: ", n,
                   " elements exceed 32-bit indexing");
  return int(n);
}

}  // namespace

void split_gradient(const mixing::spec<float>& spec, const float* grad_weight, const float* grad_bias) {
  const auto stream = static_cast<cudaStream_t>(modelmix::cuda::context::current().stream());
  const int nw = checked_int(spec.weight_numel);
  const int nb = spec.has_bias() && grad_bias ? checked_int(spec.bias_numel) : 0;
  static thread_local modelmix::cuda::device_buffer<float> partials(2 * max_partial_blocks);
  for (const mixing::term<float>& t : spec.terms) {
    if (t.grad_weight) {
      MODELMIX_REQUIRE(grad_weight, "cudnn::split_gradient: a term wants a weight gradient but dW is null");
      axpy_kernel<<<blocks_for(nw, 4096), threads, 0, stream>>>(nw, t.coeff, grad_weight, t.grad_weight);
      MODELMIX_CUDA_CHECK_LAUNCH();
    }
    if (t.grad_bias && nb > 0) {
      axpy_kernel<<<blocks_for(nb, 4096), threads, 0, stream>>>(nb, t.coeff, grad_bias, t.grad_bias);
      MODELMIX_CUDA_CHECK_LAUNCH();
    }
    if (t.grad_coeff) {
      MODELMIX_REQUIRE(grad_weight && t.weight, "cudnn::split_gradient: a coefficient gradient needs dW and W_i");
      const int bw = blocks_for(nw, max_partial_blocks);
      dot_partial_kernel<<<bw, threads, 0, stream>>>(nw, grad_weight, t.weight, partials.data());
      MODELMIX_CUDA_CHECK_LAUNCH();
      int count = bw;
      if (nb > 0 && t.bias) {
        const int bb = blocks_for(nb, max_partial_blocks);
        dot_partial_kernel<<<bb, threads, 0, stream>>>(nb, grad_bias, t.bias, partials.data() + bw);
        MODELMIX_CUDA_CHECK_LAUNCH();
        count += bb;
      }
      finish_kernel<<<1, threads, 0, stream>>>(count, partials.data(), t.grad_coeff);
      MODELMIX_CUDA_CHECK_LAUNCH();
    }
  }
}

}  // namespace modelmix::ops::cudnn
