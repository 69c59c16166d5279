#pragma once
// What a kernel body may use besides plain C++: thread/block indices, the block barrier,
// full-warp shuffles and atomics, all reached through a context object `ctx` of type Ctx.
//
//   device_ctx        maps every member to a CUDA built-in (nvcc only)
//   test emulator     tests/support/grid_emu.hpp provides the same members on CPU threads
//
// A body is a MODELMIX_HOST_DEVICE function template over Ctx, so the emulator tests run the
// very code the GPU runs. Members a body may call (and nothing else from CUDA):
//
//   ctx.thread(), ctx.block(), ctx.block_dim(), ctx.grid_dim()    idx3 (x, y, z)
//   ctx.linear_thread()   x + bdim.x·(y + bdim.y·z)
//   ctx.lane()            linear_thread() mod 32
//   ctx.sync()            __syncthreads(): every thread of the block, same call site
//   ctx.shfl_xor(v, m)    __shfl_xor_sync(0xffffffff, v, m): every lane of the warp
//   ctx.atomic_add(p, v)  atomicAdd (results not bitwise reproducible: avoid for outputs)
//
// Includable by g++: CUDA names appear only under __CUDACC__.
#include "modelmix/core/config.hpp"

// Unroll a loop with a compile-time trip count. Loops over the terms of a mixing::kernel_spec
// must be unrolled so that its arrays are indexed with constants only (a run-time index
// would place the spec in local memory).
#if defined(__CUDACC__)
#define MODELMIX_UNROLL _Pragma("unroll")
#else
#define MODELMIX_UNROLL
#endif

namespace modelmix::ops::cuda {

inline constexpr int warp_size = 32;

struct idx3 {
  int x = 0, y = 0, z = 0;
};

// The shared memory of a kernel that needs none.
struct no_shared {};

#if defined(__CUDACC__)
struct device_ctx {
  __device__ idx3 thread() const { return {int(threadIdx.x), int(threadIdx.y), int(threadIdx.z)}; }
  __device__ idx3 block() const { return {int(blockIdx.x), int(blockIdx.y), int(blockIdx.z)}; }
  __device__ idx3 block_dim() const { return {int(blockDim.x), int(blockDim.y), int(blockDim.z)}; }
  __device__ idx3 grid_dim() const { return {int(gridDim.x), int(gridDim.y), int(gridDim.z)}; }
  __device__ int linear_thread() const {
    return int(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
  }
  __device__ int lane() const { return linear_thread() & (warp_size - 1); }
  __device__ void sync() const { __syncthreads(); }
  template <class T>
  __device__ T shfl_xor(T v, int mask) const {
    return __shfl_xor_sync(0xffffffffu, v, mask);
  }
  template <class T>
  __device__ T atomic_add(T* p, T v) const {
    return atomicAdd(p, v);
  }
};
#endif

}  // namespace modelmix::ops::cuda
