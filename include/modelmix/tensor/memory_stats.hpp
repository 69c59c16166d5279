#pragma once
// Bytes of host tensor storage (every aligned_allocator allocation): live now, and the most
// that was live since the last reset_peak(). The counters are what lets a program size a
// training step before running it (method/step_memory.hpp) and a benchmark compare the
// high-water marks of a ModelMix step and a plain one. Two relaxed atomic operations per
// allocation; tensors are few and large, so this costs nothing measurable.
#include <atomic>
#include <cstddef>

namespace modelmix::memory {

namespace detail {
inline std::atomic<std::size_t> live_bytes{0};
inline std::atomic<std::size_t> peak_bytes{0};

inline void on_allocate(std::size_t bytes) noexcept {
  const std::size_t now = live_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::size_t peak = peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}
inline void on_deallocate(std::size_t bytes) noexcept { live_bytes.fetch_sub(bytes, std::memory_order_relaxed); }
}  // namespace detail

// Host tensor bytes allocated and not yet freed (all threads).
[[nodiscard]] inline std::size_t live_bytes() noexcept { return detail::live_bytes.load(std::memory_order_relaxed); }
// The high-water mark of live_bytes() since the last reset_peak().
[[nodiscard]] inline std::size_t peak_bytes() noexcept { return detail::peak_bytes.load(std::memory_order_relaxed); }
// Starts a new high-water mark at the current live bytes.
inline void reset_peak() noexcept { detail::peak_bytes.store(live_bytes(), std::memory_order_relaxed); }

}  // namespace modelmix::memory
