#pragma once
// Error checks for CUDA runtime and cuDNN calls (nvcc- or toolkit-compiled sources of
// modelmix::cuda only; the g++-compiled core sees cuda/runtime.hpp instead).
//
//   MODELMIX_CUDA_CHECK(cudaMalloc(&p, bytes));
//   kernel<<<grid, block, 0, stream>>>(...); MODELMIX_CUDA_CHECK_LAUNCH();
//   MODELMIX_CUDNN_CHECK(cudnnCreate(&handle));
//
// A failure throws modelmix::error naming the call as written, the error string and the code:
//   "cudaMalloc(&p, bytes) failed: out of memory (2)"
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "modelmix/core/error.hpp"

namespace modelmix::cuda::detail {

[[noreturn]] inline void throw_cuda_error(const char* call, cudaError_t code) {
  throw ::modelmix::error(::modelmix::cat(call, " failed: ", cudaGetErrorString(code), " (", int(code), ")"));
}
[[noreturn]] inline void throw_cudnn_error(const char* call, cudnnStatus_t code) {
  throw ::modelmix::error(::modelmix::cat(call, " failed: ", cudnnGetErrorString(code), " (", int(code), ")"));
}

}  // namespace modelmix::cuda::detail

#define MODELMIX_CUDA_CHECK(call)                                                              \
  do {                                                                                         \
    const cudaError_t modelmix_cuda_status_ = (call);                                          \
    if (modelmix_cuda_status_ != cudaSuccess) {                                                \
      (void)cudaGetLastError(); /* clear a non-sticky error so later calls start clean */     \
      ::modelmix::cuda::detail::throw_cuda_error(#call, modelmix_cuda_status_);                \
    }                                                                                          \
  } while (false)

// After a kernel launch: reports a bad launch configuration or a missing kernel image.
#define MODELMIX_CUDA_CHECK_LAUNCH() MODELMIX_CUDA_CHECK(cudaGetLastError())

#define MODELMIX_CUDNN_CHECK(call)                                                             \
  do {                                                                                         \
    const cudnnStatus_t modelmix_cudnn_status_ = (call);                                       \
    if (modelmix_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                        \
      ::modelmix::cuda::detail::throw_cudnn_error(#call, modelmix_cudnn_status_);              \
  } while (false)
