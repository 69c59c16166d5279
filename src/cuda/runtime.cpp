// modelmix::cuda runtime: availability, device memory, and the per-thread context (stream,
// cuDNN handle, workspace). Declared in include/modelmix/cuda/runtime.hpp.
#include "modelmix/cuda/runtime.hpp"

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <algorithm>

#include "modelmix/cuda/check.cuh"

namespace modelmix::cuda {

namespace {

availability probe() {
  availability a;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    a.reason = cat("cudaGetDeviceCount: ", cudaGetErrorString(status), " (", int(status), ")");
    return a;
  }
  if (count == 0) {
    a.reason = "cudaGetDeviceCount: no CUDA device (0 devices)";
    return a;
  }
  a.device_count = count;
  int device = 0;
  cudaDeviceProp props{};
  cudaError_t s = cudaGetDevice(&device);
  if (s == cudaSuccess) s = cudaGetDeviceProperties(&props, device);
  // Create the primary context now, so a driver/runtime mismatch shows up here, not later.
  if (s == cudaSuccess) s = cudaFree(nullptr);
  if (s != cudaSuccess) {
    (void)cudaGetLastError();
    a.reason = cat("CUDA device ", device, " is not usable: ", cudaGetErrorString(s), " (", int(s), ")");
    return a;
  }
  a.device_name = cat(props.name, " (sm_", props.major, props.minor, ", ", props.multiProcessorCount, " SMs, ",
                      props.totalGlobalMem >> 20, " MiB)");
  a.available = true;
  return a;
}

}  // namespace

availability device_available() {
  static const availability cached = probe();
  return cached;
}

void* allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  MODELMIX_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void deallocate(void* p) noexcept {
  if (p) (void)cudaFree(p);  // never throws: called from destructors
}

namespace {
void copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return;
  const auto stream = static_cast<cudaStream_t>(context::current().stream());
  MODELMIX_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream));
  MODELMIX_CUDA_CHECK(cudaStreamSynchronize(stream));
}
}  // namespace

void copy_to_device(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes, cudaMemcpyHostToDevice); }
void copy_to_host(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes, cudaMemcpyDeviceToHost); }
void copy_on_device(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes, cudaMemcpyDeviceToDevice); }

void fill_zero(void* dst, std::size_t bytes) {
  if (bytes == 0) return;
  MODELMIX_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, static_cast<cudaStream_t>(context::current().stream())));
}

// ---- context ------------------------------------------------------------------------------
// Nothing is created until first used, so context::current() itself never touches the device.
struct context::impl {
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
};

context::context() : impl_(new impl) {}

context::~context() {
  // Thread exit (or program exit for the main thread, before static destructors): release
  // quietly, a failing release must not throw from a destructor.
  if (impl_->workspace) (void)cudaFree(impl_->workspace);
  if (impl_->cudnn) (void)cudnnDestroy(impl_->cudnn);
  if (impl_->stream) (void)cudaStreamDestroy(impl_->stream);
  delete impl_;
}

context& context::current() {
  static thread_local context ctx;
  return ctx;
}

void* context::stream() const {
  if (!impl_->stream) MODELMIX_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
  return impl_->stream;
}

void* context::cudnn_handle() {
  if (!impl_->cudnn) {
    cudnnHandle_t handle = nullptr;
    MODELMIX_CUDNN_CHECK(cudnnCreate(&handle));
    const cudnnStatus_t s = cudnnSetStream(handle, static_cast<cudaStream_t>(stream()));
    if (s != CUDNN_STATUS_SUCCESS) {
      (void)cudnnDestroy(handle);
      MODELMIX_CUDNN_CHECK(s);
    }
    impl_->cudnn = handle;
  }
  return impl_->cudnn;
}

void* context::workspace(std::size_t bytes) {
  if (bytes > impl_->workspace_bytes) {
    // Grow by at least half again, in whole MiB, so a sequence of growing requests reallocates rarely.
    const std::size_t mib = std::size_t(1) << 20;
    const std::size_t want = (std::max(bytes, impl_->workspace_bytes + impl_->workspace_bytes / 2) + mib - 1) / mib * mib;
    // Work queued on the stream may still read the old workspace.
    synchronize();
    if (impl_->workspace) (void)cudaFree(impl_->workspace);
    impl_->workspace = nullptr;
    impl_->workspace_bytes = 0;
    MODELMIX_CUDA_CHECK(cudaMalloc(&impl_->workspace, want));
    impl_->workspace_bytes = want;
  }
  return impl_->workspace;
}

std::size_t context::workspace_size() const { return impl_->workspace_bytes; }

void context::synchronize() const {
  if (impl_->stream) MODELMIX_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

}  // namespace modelmix::cuda
