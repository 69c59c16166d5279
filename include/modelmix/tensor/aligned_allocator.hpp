#pragma once
// Tensor storage starts on a 64-byte boundary (a cache line; a whole AVX-512 vector).
//
// Besides speed this makes results reproducible bit for bit: vectorised reductions (Eigen's
// redux, `#pragma omp simd reduction`) peel a different number of leading elements depending
// on where the data starts, which changes the summation order. With every tensor aligned the
// same way, the same computation rounds the same way in every run.
#include <algorithm>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "modelmix/tensor/memory_stats.hpp"

namespace modelmix {

inline constexpr std::size_t tensor_alignment = 64;

template <class T>
struct aligned_allocator {
  using value_type = T;
  aligned_allocator() noexcept = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U>&) noexcept {}  // NOLINT: rebinding is implicit

  T* allocate(std::size_t n) {
    T* p = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(tensor_alignment)));
    memory::detail::on_allocate(n * sizeof(T));
    return p;
  }
  void deallocate(T* p, std::size_t n) noexcept {
    memory::detail::on_deallocate(n * sizeof(T));
    ::operator delete(p, std::align_val_t(tensor_alignment));
  }

  // Elements are default-initialised, not zeroed: resize(n) leaves floats unwritten, so an
  // output buffer that a kernel overwrites is never filled twice (and its pages are first
  // touched by the thread that computes them). Tensor asks for zeros explicitly.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <class U>
  friend bool operator==(const aligned_allocator&, const aligned_allocator<U>&) noexcept { return true; }
};

template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

// Element-wise comparison with a plain std::vector (found by argument-dependent lookup).
template <class T>
bool operator==(const aligned_vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace modelmix
