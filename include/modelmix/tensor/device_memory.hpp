#pragma once
// Device memory as the header-only core reaches it: through the optional modelmix::cuda
// runtime when the program links it, otherwise a clear error. Nothing here includes a CUDA
// header, so the core compiles with any C++20 compiler.
#include <cstddef>

#include "modelmix/core/device.hpp"
#include "modelmix/core/error.hpp"
#if MODELMIX_WITH_CUDA
#include "modelmix/cuda/runtime.hpp"
#endif

namespace modelmix::detail {

[[noreturn]] inline void no_cuda(const char* what) {
  throw error(cat(what, ": modelmix was built without CUDA (link the modelmix::cuda target; CMake builds it when "
                        "nvcc is found, or with -DMODELMIX_WITH_CUDA=ON)"));
}

// Whether `where` can be used here, else an error naming `what` and the reason: CUDA not built
// in, or no device (the runtime's reason, e.g. the driver is missing). A program calls it once
// for its --device before it builds anything.
inline void require_device(const char* what, device where) {
  if (where == device::cpu) return;
#if MODELMIX_WITH_CUDA
  const cuda::availability a = cuda::device_available();
  if (!a.available) throw error(cat(what, ": no usable CUDA device: ", a.reason));
#else
  no_cuda(what);
#endif
}

inline void* device_allocate(std::size_t bytes) {
#if MODELMIX_WITH_CUDA
  return cuda::allocate(bytes);
#else
  if (bytes == 0) return nullptr;
  no_cuda("device memory");
#endif
}
inline void device_deallocate(void* p) noexcept {
#if MODELMIX_WITH_CUDA
  cuda::deallocate(p);
#else
  (void)p;
#endif
}

enum class copy_direction { host_to_device, device_to_host, device_to_device };

inline void device_copy(void* dst, const void* src, std::size_t bytes, copy_direction direction) {
  if (bytes == 0) return;
#if MODELMIX_WITH_CUDA
  switch (direction) {
    case copy_direction::host_to_device: return cuda::copy_to_device(dst, src, bytes);
    case copy_direction::device_to_host: return cuda::copy_to_host(dst, src, bytes);
    case copy_direction::device_to_device: return cuda::copy_on_device(dst, src, bytes);
  }
#else
  (void)dst, (void)src, (void)direction;
  no_cuda("device copy");
#endif
}

inline void device_fill_zero(void* dst, std::size_t bytes) {
  if (bytes == 0) return;
#if MODELMIX_WITH_CUDA
  cuda::fill_zero(dst, bytes);
#else
  (void)dst;
  no_cuda("device fill");
#endif
}

// Owns one device allocation (frees it on destruction).
struct device_deleter {
  void operator()(void* p) const noexcept { device_deallocate(p); }
};

}  // namespace modelmix::detail
