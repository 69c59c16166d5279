#pragma once
// Launch of a kernel functor on the device (nvcc translation units only): one __global__
// template runs every kernel written as a functor `k(ctx, smem)` (ops/cuda/elementwise.cuh, …).
//
//   launch<Smem>("relu", grid, block, elementwise_kernel{...});
//
// The launch files (src/cuda/*_launch.inl) are written against this signature only, so the
// tests compile the same launch code with the CPU grid emulator's launch instead
// (tests/support/emu_device.cpp): the emulated device runs every launch the GPU would.
#if !defined(__CUDACC__)
#error "ops/cuda/launch.cuh is for nvcc translation units (src/cuda/*.cu)"
#endif
#include <cuda_runtime.h>

#include "modelmix/cuda/check.cuh"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/cuda/kernel_ctx.cuh"

namespace modelmix::ops::cuda {

// __grid_constant__: the functor stays in the parameter space, no per-thread copy.
template <class Smem, class Kernel>
__global__ void functor_kernel(const __grid_constant__ Kernel k) {
  __shared__ Smem sm;
  k(device_ctx{}, sm);
}

// A functor tuned for one block size says so with `static constexpr int max_threads`: its
// kernel gets __launch_bounds__, so the register allocation is capped to fit that block.
template <class Kernel>
concept bounded_kernel = requires { Kernel::max_threads; };

template <class Smem, class Kernel>
__global__ void __launch_bounds__(Kernel::max_threads) bounded_functor_kernel(const __grid_constant__ Kernel k) {
  __shared__ Smem sm;
  k(device_ctx{}, sm);
}

// Queued on the calling thread's stream; a launch error names the kernel.
template <class Smem = no_shared, class Kernel>
void launch(const char* name, idx3 grid, idx3 block, const Kernel& k) {
  const auto stream = static_cast<cudaStream_t>(modelmix::cuda::context::current().stream());
  const dim3 g(unsigned(grid.x), unsigned(grid.y), unsigned(grid.z)), b(unsigned(block.x), unsigned(block.y), unsigned(block.z));
  if constexpr (bounded_kernel<Kernel>)
    bounded_functor_kernel<Smem><<<g, b, 0, stream>>>(k);
  else
    functor_kernel<Smem><<<g, b, 0, stream>>>(k);
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) modelmix::cuda::detail::throw_cuda_error(name, status);
}

}  // namespace modelmix::ops::cuda
