// modelmix::cuda runtime: availability, device memory, and the per-thread context (stream,
// cuDNN handle, workspace). Declared in include/modelmix/cuda/runtime.hpp.
#include "modelmix/cuda/runtime.hpp"

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <algorithm>
#include <cstdint>

#include "allocation_table.hpp"
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

namespace {
// Whether the device has a stream-ordered memory pool, set up on first use to keep everything
// freed into it (release threshold: all of it), so a steady-state training step reuses the
// previous step's memory without asking the driver.
bool use_pool() {
  static const bool ok = [] {
    int device = 0, supported = 0;
    cudaMemPool_t pool = nullptr;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device) != cudaSuccess || !supported ||
        cudaDeviceGetDefaultMemPool(&pool, device) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    std::uint64_t keep_all = UINT64_MAX;
    if (cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all) != cudaSuccess)
      (void)cudaGetLastError();
    return true;
  }();
  return ok;
}
}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  void* stream = context::current().stream();
  void* p = nullptr;
  if (use_pool())
    MODELMIX_CUDA_CHECK(cudaMallocAsync(&p, bytes, static_cast<cudaStream_t>(stream)));
  else
    MODELMIX_CUDA_CHECK(cudaMalloc(&p, bytes));
  detail::allocation_table::instance().add(p, bytes, stream);
  return p;
}

void deallocate(void* p) noexcept {
  if (!p) return;
  const auto e = detail::allocation_table::instance().remove(p);
  if (!use_pool()) {
    (void)cudaFree(p);  // never throws: called from destructors
    return;
  }
  // Freed in the order of the allocating thread's stream, after the work queued there that may
  // still read it, whichever thread frees it. A stream already gone had finished its work.
  (void)cudaFreeAsync(p, static_cast<cudaStream_t>(e && e->stream ? e->stream : nullptr));
}

memory_stats device_memory() { return detail::allocation_table::instance().stats(); }
void reset_device_peak() { detail::allocation_table::instance().reset_peak(); }

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
  deallocate(impl_->workspace);
  if (impl_->cudnn) (void)cudnnDestroy(impl_->cudnn);
  if (impl_->stream) {
    // Memory this thread allocated and still alive is freed later without its stream.
    (void)cudaStreamSynchronize(impl_->stream);
    detail::allocation_table::instance().forget_stream(impl_->stream);
    (void)cudaStreamDestroy(impl_->stream);
  }
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
    // The old one is freed in stream order, after the queued work that may still read it.
    deallocate(impl_->workspace);
    impl_->workspace = nullptr;
    impl_->workspace_bytes = 0;
    impl_->workspace = allocate(want);
    impl_->workspace_bytes = want;
  }
  return impl_->workspace;
}

std::size_t context::workspace_size() const { return impl_->workspace_bytes; }

void context::synchronize() const {
  if (impl_->stream) MODELMIX_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

}  // namespace modelmix::cuda
