#pragma once
// CPU grid emulator for the CUDA kernel bodies of include/modelmix/ops/cuda/*.cuh: runs a body
// unchanged through a context with the members of ops::cuda::device_ctx (kernel_ctx.cuh).
//
//   emu::launch<Smem>(grid, block, [&](const emu::ctx& c, Smem& sm) { body(c, sm, args...); });
//
// - One fiber per CUDA thread of a block (support/fibers.hpp: all on the calling OS thread,
//   taking turns at barriers); under ThreadSanitizer one std::thread each instead, so a
//   missing barrier is a data race TSan reports. The team runs every block of the grid, one
//   block after another (x fastest). Races between blocks are therefore invisible (CUDA.md).
// - Shared memory: one `Smem` per launch, allocated at its exact size (ASan sees overflows)
//   and filled with NaN bytes (0xff) before every block: a read of a slot nobody wrote
//   poisons the result.
// - sync() is a checked barrier. Every arrival carries its call site and how many barriers
//   the thread passed before; arrivals that disagree (a thread at another sync(), in another
//   loop trip, or already out of the body) are a divergent __syncthreads: launch() throws
//   emu::divergence instead of hanging. If every thread of the block waits and no barrier can
//   complete (e.g. half a warp in a shuffle, half in sync()), launch() throws as well.
// - shfl_xor: full-warp exchange through per-thread slots between two warp barriers, checked
//   like sync(). Blocks must have a multiple of 32 threads.
// - atomic_add: std::atomic_ref.
// - An exception thrown by a body stops the launch and is rethrown (as emu::divergence with
//   its message) by launch().
// Build the tests also with -fsanitize=thread (a missing barrier becomes a reported data race)
// and -fsanitize=address (a missing bounds guard becomes a reported overflow).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <source_location>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "support/fibers.hpp"

namespace modelmix::test::emu {

using ops::cuda::idx3;

// A divergent barrier, a deadlock, or an exception thrown inside a kernel body.
class divergence : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using ops::cuda::no_shared;  // for kernels without shared memory

namespace detail {

struct aborted {};  // unwinds a thread's body once the launch has failed

// One barrier (the block's, or one warp's). All barriers of a team share the team's mutex.
struct barrier {
  int size = 0, arrived = 0, first_thread = -1;
  std::uint64_t generation = 0, seq = 0;
  const char* file = nullptr;  // nullptr: the thread has left the body
  unsigned line = 0;
  std::condition_variable cv;
};

inline std::string where(const char* file, unsigned line, std::uint64_t seq) {
  if (!file) return "the end of the kernel body (it left the body)";
  if (seq == ~std::uint64_t(0)) return file;
  return std::string(file) + ":" + std::to_string(line) + " (its call #" + std::to_string(seq + 1) + " in this launch)";
}

// The threads of one block, as OS threads (waits block on a condition variable) or as fibers
// of one OS thread (waits yield to the others).
class team {
 public:
  team(int threads, bool fibers)
      : fibers_(fibers),
        threads_(threads), warps_(std::size_t(threads / 32)), slots_(std::size_t(threads)), syncs_(std::size_t(threads)),
        shuffles_(std::size_t(threads)) {
    block_.size = threads;
    for (barrier& w : warps_) w.size = 32;
  }

  void begin_block(idx3 b) {
    std::lock_guard lock(m_);
    block_id_ = b;
  }
  // Block barrier. A kernel's sync() passes its call site and is counted per thread (all
  // threads of a convergent block have the same count); file == nullptr marks the launcher's
  // own barriers around a block (start, and "left the body"), which are not counted.
  void sync(int t, const char* file, unsigned line, bool counted = true) {
    arrive(block_, "__syncthreads()", t, file, line, counted ? syncs_[std::size_t(t)]++ : ~std::uint64_t(0));
  }
  void warp_sync(int t, const char* file, unsigned line) {
    arrive(warps_[std::size_t(t / 32)], "__shfl_xor_sync", t, file, line, shuffles_[std::size_t(t)]++);
  }
  std::uint64_t& slot(int t) { return slots_[std::size_t(t)]; }

  // The first failure wins; every waiting thread wakes and unwinds.
  void fail(const std::string& why) {
    std::lock_guard lock(m_);
    fail_locked(why);
  }
  [[nodiscard]] bool failed() {
    std::lock_guard lock(m_);
    return broken_;
  }
  [[nodiscard]] std::string reason() {
    std::lock_guard lock(m_);
    return why_;
  }

 private:
  void fail_locked(const std::string& why) {
    if (broken_) return;
    broken_ = true;
    why_ = why;
    block_.cv.notify_all();
    for (barrier& w : warps_) w.cv.notify_all();
  }

  std::string block_str() const {
    return "block (" + std::to_string(block_id_.x) + "," + std::to_string(block_id_.y) + "," +
           std::to_string(block_id_.z) + ")";
  }

  void arrive(barrier& b, const char* what, int t, const char* file, unsigned line, std::uint64_t seq) {
    std::unique_lock lock(m_);
    if (broken_) throw aborted{};
    const bool same_file = file == b.file || (file && b.file && std::strcmp(file, b.file) == 0);
    if (b.arrived == 0) {
      b.file = file;
      b.line = line;
      b.seq = seq;
      b.first_thread = t;
    } else if (!same_file || line != b.line || seq != b.seq) {
      fail_locked("grid_emu: divergent " + std::string(what) + " in " + block_str() + ": thread " +
                  std::to_string(b.first_thread) + " waits at " + where(b.file, b.line, b.seq) + " but thread " +
                  std::to_string(t) + " arrived from " + where(file, line, seq));
      throw aborted{};
    }
    if (++b.arrived == b.size) {  // the barrier completes: release everyone who waits in it
      b.arrived = 0;
      ++b.generation;
      waiting_ -= b.size - 1;
      b.cv.notify_all();
      return;
    }
    if (++waiting_ == threads_) {  // nobody is left to complete any barrier
      fail_locked("grid_emu: deadlock in " + block_str() + ": every thread waits and no barrier can complete (thread " +
                  std::to_string(t) + " in " + what + " at " + where(file, line, seq) +
                  "); a shuffle or barrier is not reached by all threads of its warp/block");
      throw aborted{};
    }
    const std::uint64_t gen = b.generation;
    if (fibers_) {
      for (;;) {
        lock.unlock();
        fiber_group::yield();
        lock.lock();
        if (b.generation != gen) return;
        if (broken_) throw aborted{};
      }
    }
    b.cv.wait(lock, [&] { return b.generation != gen || broken_; });
    if (b.generation == gen) throw aborted{};  // woken by a failure
  }

  bool fibers_;
  std::mutex m_;
  int threads_;
  int waiting_ = 0;
  bool broken_ = false;
  std::string why_;
  idx3 block_id_;
  barrier block_;
  std::vector<barrier> warps_;
  std::vector<std::uint64_t> slots_, syncs_, shuffles_;
};

}  // namespace detail

// The emulated thread context (see ops::cuda::device_ctx for the contract).
struct ctx {
  idx3 tid, bid, bdim, gdim;
  int linear = 0;
  detail::team* tm = nullptr;

  idx3 thread() const { return tid; }
  idx3 block() const { return bid; }
  idx3 block_dim() const { return bdim; }
  idx3 grid_dim() const { return gdim; }
  int linear_thread() const { return linear; }
  int lane() const { return linear & 31; }
  void sync(std::source_location at = std::source_location::current()) const {
    if (!tm) sequential_barrier("sync()", at);
    tm->sync(linear, at.file_name(), at.line());
  }
  template <class T>
  T shfl_xor(T v, int mask, std::source_location at = std::source_location::current()) const {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move at most 8 bytes");
    if (!tm) sequential_barrier("shfl_xor()", at);
    if (mask <= 0 || mask >= 32) tm->fail("grid_emu: shfl_xor lane mask " + std::to_string(mask) + " outside 1..31");
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    tm->slot(linear) = bits;
    tm->warp_sync(linear, at.file_name(), at.line());  // every lane has written its slot
    bits = tm->slot((linear & ~31) | ((linear & 31) ^ mask));
    tm->warp_sync(linear, at.file_name(), at.line());  // every lane has read before slots are reused
    T r;
    std::memcpy(&r, &bits, sizeof(T));
    return r;
  }
  template <class T>
  T atomic_add(T* p, T v) const {
    return std::atomic_ref<T>(*p).fetch_add(v, std::memory_order_relaxed);
  }

 private:
  [[noreturn]] static void sequential_barrier(const char* what, std::source_location at) {
    throw divergence(std::string("grid_emu: ") + what + " at " + at.file_name() + ":" + std::to_string(at.line()) +
                     " in a kernel launched without shared memory, which the emulator runs one thread after "
                     "another (launch_sequential); launch it with its shared-memory type");
  }
};

// Runs body(const ctx&, Smem&) for every thread of every block of `grid`. Throws
// emu::divergence on a divergent barrier, a deadlock or an exception inside the body, and
// std::invalid_argument for a block that is not a multiple of 32 threads.
template <class Smem = no_shared, class Body>
void launch(idx3 grid, idx3 block, Body&& body) {
  static_assert(std::is_trivially_copyable_v<Smem> && std::is_trivially_default_constructible_v<Smem>,
                "shared memory must be plain data");
  const int threads = block.x * block.y * block.z;
  if (threads <= 0 || threads % 32 != 0 || threads > 1024)
    throw std::invalid_argument("grid_emu: a block needs a multiple of 32 threads (at most 1024), got " +
                                std::to_string(threads));
  if (grid.x <= 0 || grid.y <= 0 || grid.z <= 0) throw std::invalid_argument("grid_emu: empty grid");
#if defined(__SANITIZE_THREAD__)
  constexpr bool fibers = false;
#else
  constexpr bool fibers = true;
#endif
  detail::team tm(threads, fibers);
  std::unique_ptr<Smem> smem(new Smem);  // default-initialised: exactly sizeof(Smem) bytes
  auto poison = [&] { std::memset(static_cast<void*>(smem.get()), 0xff, sizeof(Smem)); };  // 0xffffffff is a NaN

  auto run = [&](int t) {
    const idx3 tid{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
    try {
      for (int bz = 0; bz < grid.z; ++bz)
        for (int by = 0; by < grid.y; ++by)
          for (int bx = 0; bx < grid.x; ++bx) {
            if (t == 0) {
              tm.begin_block({bx, by, bz});
              poison();
            }
            tm.sync(t, "(block start)", 0, false);  // every thread sees the fresh block and NaNs
            const ctx c{tid, {bx, by, bz}, block, grid, t, &tm};
            body(c, *smem);
            tm.sync(t, nullptr, 0, false);  // left the body: must meet the others here, not in a sync()
          }
    } catch (const detail::aborted&) {
    } catch (const std::exception& e) {
      tm.fail(std::string("grid_emu: the kernel body threw: ") + e.what());
    } catch (...) {
      tm.fail("grid_emu: the kernel body threw a non-standard exception");
    }
  };
  if constexpr (fibers) {
    detail::fiber_group group(threads, run);
    group.run();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(std::size_t(threads));
    for (int t = 0; t < threads; ++t) pool.emplace_back(run, t);
    for (std::thread& th : pool) th.join();
  }
  if (tm.failed()) throw divergence(tm.reason());
}

// The cheap path for kernels without shared memory (launch<no_shared>): every thread of every
// block runs on the calling OS thread, one after another, in the same order of blocks. Such a
// kernel has no barrier to wait on — its threads only meet through global memory, where a CUDA
// kernel may not depend on the order of threads either — so the results are those of
// launch(), at a fraction of the cost (no OS thread per CUDA thread). A sync() or shuffle in
// the body throws divergence naming the call site.
template <class Body>
void launch_sequential(idx3 grid, idx3 block, Body&& body) {
  const int threads = block.x * block.y * block.z;
  if (threads <= 0 || threads % 32 != 0 || threads > 1024)
    throw std::invalid_argument("grid_emu: a block needs a multiple of 32 threads (at most 1024), got " +
                                std::to_string(threads));
  if (grid.x <= 0 || grid.y <= 0 || grid.z <= 0) throw std::invalid_argument("grid_emu: empty grid");
  no_shared none;
  for (int bz = 0; bz < grid.z; ++bz)
    for (int by = 0; by < grid.y; ++by)
      for (int bx = 0; bx < grid.x; ++bx)
        for (int t = 0; t < threads; ++t) {
          const idx3 tid{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
          try {
            body(ctx{tid, {bx, by, bz}, block, grid, t, nullptr}, none);
          } catch (const divergence&) {
            throw;
          } catch (const std::exception& e) {
            throw divergence(std::string("grid_emu: the kernel body threw: ") + e.what());
          }
        }
}

}  // namespace modelmix::test::emu
