#pragma once
// The runtime's record of its live device allocations: each pointer's size and the stream it
// was allocated on. The sizes give the device-memory counters (cuda::device_memory(): live
// bytes and the high-water mark since the last reset, what a benchmark compares between a
// ModelMix step and a plain step); the streams let a free from another thread wait for the
// owner's queued work. Shared by the real runtime (runtime.cpp) and the tests' emulated
// device, so the counters mean the same on both. One mutex: a map lookup is nothing next to
// the kernels that use the memory.
#include <cstddef>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "modelmix/cuda/runtime.hpp"

namespace modelmix::cuda::detail {

class allocation_table {
 public:
  struct entry {
    std::size_t bytes = 0;
    void* stream = nullptr;  // the allocating thread's stream; nullptr once that stream is gone
  };

  void add(void* p, std::size_t bytes, void* stream) {
    const std::lock_guard lock(mutex_);
    entries_[p] = {bytes, stream};
    live_ += bytes;
    if (live_ > peak_) peak_ = live_;
  }

  // The entry of `p`, removed; nothing when `p` was not allocated here.
  std::optional<entry> remove(void* p) {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(p);
    if (it == entries_.end()) return std::nullopt;
    const entry e = it->second;
    entries_.erase(it);
    live_ -= e.bytes;
    return e;
  }

  // A thread's stream is being destroyed (its work has finished): its allocations now belong to
  // no stream, and whoever frees them need not wait.
  void forget_stream(void* stream) {
    const std::lock_guard lock(mutex_);
    for (auto& [p, e] : entries_)
      if (e.stream == stream) e.stream = nullptr;
  }

  [[nodiscard]] memory_stats stats() const {
    const std::lock_guard lock(mutex_);
    return {live_, peak_};
  }

  void reset_peak() {
    const std::lock_guard lock(mutex_);
    peak_ = live_;
  }

  // Never destroyed: tensors with static storage may free device memory during exit.
  static allocation_table& instance() {
    static allocation_table* const table = new allocation_table;
    return *table;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<void*, entry> entries_;
  std::size_t live_ = 0, peak_ = 0;
};

}  // namespace modelmix::cuda::detail
