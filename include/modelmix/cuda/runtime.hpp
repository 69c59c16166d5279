#pragma once
// The CUDA runtime as the g++-compiled core sees it: plain declarations, no CUDA headers.
// Defined in the optional target modelmix::cuda (src/cuda/), which also defines
// MODELMIX_WITH_CUDA=1 for everything that links it. Without that target nothing here is
// called: the core checks MODELMIX_WITH_CUDA before it reaches for device memory.
//
//   availability a = cuda::device_available();   // {false, "cudaGetDeviceCount: ... (35)"} without a driver
//   float* p = static_cast<float*>(cuda::allocate(bytes));
//   cuda::context& ctx = cuda::context::current();    // per thread: stream, cuDNN handle, workspace
//
// Every failing CUDA/cuDNN call throws modelmix::error naming the call and the error string.
#include <cstddef>
#include <string>

namespace modelmix::cuda {

struct availability {
  bool available = false;
  std::string reason;       // why not, e.g. "cudaGetDeviceCount: CUDA driver version is insufficient (35)"
  int device_count = 0;
  std::string device_name;  // of the current device, when available
};

// Whether a CUDA device can run kernels now (driver present, at least one device), and why not.
[[nodiscard]] availability device_available();

// Device memory. allocate(0) returns nullptr. The memory is ordered on the calling thread's
// stream (cudaMallocAsync from the device's pool, which keeps freed memory for reuse: a
// training step allocates its tape values every step, and cudaMalloc/cudaFree would
// synchronise the device each time). A free is ordered on the allocating thread's stream, so
// freeing from another thread is safe; using the memory from another thread's stream needs
// that thread to synchronise first.
[[nodiscard]] void* allocate(std::size_t bytes);
void deallocate(void* p) noexcept;

// Bytes allocated through allocate() and the threads' workspaces and not yet freed, and the
// most that was live since the last reset_device_peak(): the device counterpart of
// modelmix::memory::peak_bytes(), for comparing the memory of two kinds of step.
struct memory_stats {
  std::size_t live_bytes = 0;
  std::size_t peak_bytes = 0;
};
[[nodiscard]] memory_stats device_memory();
void reset_device_peak();
// Copies on the current thread's stream, synchronised before returning.
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void copy_on_device(void* dst, const void* src, std::size_t bytes);
// Queued on the current thread's stream (ordered before later work on it), not synchronised.
void fill_zero(void* dst, std::size_t bytes);

// Per-thread state: a non-blocking stream, a cuDNN handle bound to it and a growable workspace,
// each created on first use (so current() itself never touches the device). Released when the
// thread ends.
class context {
 public:
  static context& current();
  [[nodiscard]] void* stream() const;        // cudaStream_t
  [[nodiscard]] void* cudnn_handle();        // cudnnHandle_t
  [[nodiscard]] void* workspace(std::size_t bytes);  // at least `bytes`, reused across calls; the old
                                                     // one is freed in stream order when it grows
  [[nodiscard]] std::size_t workspace_size() const;  // bytes held now
  void synchronize() const;

  context(const context&) = delete;
  context& operator=(const context&) = delete;
  ~context();

 private:
  context();
  struct impl;
  impl* impl_;
};

}  // namespace modelmix::cuda
