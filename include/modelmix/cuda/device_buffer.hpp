#pragma once
// An owning buffer of `size()` elements of T in device memory (cuda::allocate/deallocate):
// movable, not copyable, and g++-compilable (no CUDA headers).
//
//   cuda::device_buffer<float> x(n);                 // uninitialised
//   auto w = cuda::device_buffer<float>::from_host(host_vector);
//   x.zero();  x.copy_from_host(p, n);  std::vector<float> back = x.to_host();
//
// Copies are synchronous (cuda::copy_*), zero() is queued on the calling thread's stream.
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/cuda/runtime.hpp"

namespace modelmix::cuda {

template <class T>
class device_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "device_buffer holds trivially copyable elements only");

 public:
  device_buffer() = default;
  explicit device_buffer(std::size_t size) : data_(static_cast<T*>(allocate(size * sizeof(T)))), size_(size) {}

  [[nodiscard]] static device_buffer from_host(std::span<const T> host) {
    device_buffer b(host.size());
    b.copy_from_host(host.data(), host.size());
    return b;
  }
  [[nodiscard]] static device_buffer from_host(const std::vector<T>& host) { return from_host(std::span<const T>(host)); }

  device_buffer(device_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      deallocate(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() { deallocate(data_); }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return size_ * sizeof(T); }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  void copy_from_host(const T* host, std::size_t count) {
    MODELMIX_REQUIRE(count <= size_, "device_buffer: copying ", count, " elements into a buffer of ", size_);
    copy_to_device(data_, host, count * sizeof(T));
  }
  void copy_to_host(T* host, std::size_t count) const {
    MODELMIX_REQUIRE(count <= size_, "device_buffer: copying ", count, " elements out of a buffer of ", size_);
    cuda::copy_to_host(host, data_, count * sizeof(T));
  }
  [[nodiscard]] std::vector<T> to_host() const {
    std::vector<T> host(size_);
    copy_to_host(host.data(), size_);
    return host;
  }
  void zero() { fill_zero(data_, bytes()); }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace modelmix::cuda
