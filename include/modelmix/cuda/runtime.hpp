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

// Device memory (cudaMalloc / cudaFree). allocate(0) returns nullptr.
[[nodiscard]] void* allocate(std::size_t bytes);
void deallocate(void* p) noexcept;
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
  [[nodiscard]] void* workspace(std::size_t bytes);  // at least `bytes`, reused across calls; growing
                                                     // synchronises the stream first
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
