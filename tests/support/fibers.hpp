#pragma once
// Cooperative fibers on the calling OS thread (ucontext), for the grid emulator: the threads of
// an emulated block take turns on one core instead of being one OS thread each. A barrier is
// then a yield, not a futex wake of hundreds of threads, which is what made the emulator's
// shared-memory kernels slow (system time dominated).
//
//   fiber_group g(threads, [&](int t) { body(t); });   // created, not started
//   g.run();                                            // until every body has returned
//   fiber_group::yield();                               // inside a body: let the others run
//
// run() resumes the unfinished fibers in index order, round after round; a body that yields
// is resumed in the next round (it re-checks whatever it waits for). A body must not let an
// exception escape (the group has no one to hand it to): catch inside. Under AddressSanitizer
// every switch is announced (__sanitizer_{start,finish}_switch_fiber), so ASan tracks the fiber
// stacks. ThreadSanitizer would see one thread: the emulator keeps an OS thread per CUDA
// thread there (a missing barrier must stay a race TSan can report).
#include <sys/mman.h>
#include <ucontext.h>

#include <cstddef>
#include <functional>
#include <new>
#include <stdexcept>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace modelmix::test::emu::detail {

class fiber_group {
 public:
  fiber_group(int count, std::function<void(int)> body) : body_(std::move(body)), fibers_(std::size_t(count)) {
    // One mapping for all stacks; pages are touched only as far as each stack grows.
    stack_bytes_ = std::size_t(256) << 10;
    stacks_bytes_ = stack_bytes_ * std::size_t(count);
    void* m = mmap(nullptr, stacks_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    stacks_ = static_cast<char*>(m);
    for (std::size_t i = 0; i < fibers_.size(); ++i) prepare(fibers_[i], stacks_ + stack_bytes_ * i, stack_bytes_);
  }
  ~fiber_group() { munmap(stacks_, stacks_bytes_); }
  fiber_group(const fiber_group&) = delete;
  fiber_group& operator=(const fiber_group&) = delete;

  // Resumes every unfinished fiber, in index order, until all have finished.
  void run() {
    fiber_group* const outer = current_;
    current_ = this;
    for (int left = int(fibers_.size()); left > 0;) {
      left = 0;
      for (std::size_t i = 0; i < fibers_.size(); ++i) {
        if (fibers_[i].finished) continue;
        running_ = int(i);
        resume(fibers_[i]);
        if (!fibers_[i].finished) ++left;
      }
    }
    current_ = outer;
  }

  // Inside a body: back to run(), which resumes this fiber in its next round.
  static void yield() {
    fiber_group* g = current_;
    fiber& f = g->fibers_[std::size_t(g->running_)];
#if defined(__SANITIZE_ADDRESS__)
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, g->scheduler_stack_, g->scheduler_stack_bytes_);
    swapcontext(&f.context, &g->scheduler_);
    __sanitizer_finish_switch_fiber(fake_stack, &g->scheduler_stack_, &g->scheduler_stack_bytes_);
#else
    swapcontext(&f.context, &g->scheduler_);
#endif
  }

 private:
  struct fiber {
    ucontext_t context{};
    char* stack = nullptr;
    bool finished = false;
  };

  // On its own (not inlined into the constructor's loop): getcontext returns twice as far as
  // the compiler knows, which would make it keep the loop's variables in memory.
  [[gnu::noinline]] static void prepare(fiber& f, char* stack, std::size_t bytes) {
    if (getcontext(&f.context) != 0) throw std::runtime_error("fiber_group: getcontext failed");
    f.stack = stack;
    f.context.uc_stack.ss_sp = stack;
    f.context.uc_stack.ss_size = bytes;
    f.context.uc_link = nullptr;  // a body never returns through uc_link (entry() switches back)
    makecontext(&f.context, &fiber_group::entry, 0);
  }

  static void entry() {
    fiber_group* g = current_;
    g->arrived();
    const int i = g->running_;
    g->body_(i);
    g->fibers_[std::size_t(i)].finished = true;
    g->leave_for_good(g->fibers_[std::size_t(i)].context);
  }

  // From run(): into fiber f until it yields or finishes.
  void resume(fiber& f) {
#if defined(__SANITIZE_ADDRESS__)
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, f.stack, stack_bytes_);
    swapcontext(&scheduler_, &f.context);
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
    swapcontext(&scheduler_, &f.context);
#endif
  }

  // First thing in a fiber: learn the scheduler's stack (ASan needs it to switch back).
  void arrived() {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(nullptr, &scheduler_stack_, &scheduler_stack_bytes_);
#endif
  }

  // A finished fiber's last switch: its stack is dead from here on.
  [[noreturn]] void leave_for_good(ucontext_t& from) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(nullptr, scheduler_stack_, scheduler_stack_bytes_);
#endif
    swapcontext(&from, &scheduler_);
    __builtin_unreachable();
  }

  std::function<void(int)> body_;
  std::vector<fiber> fibers_;
  char* stacks_ = nullptr;
  std::size_t stack_bytes_ = 0, stacks_bytes_ = 0;
  ucontext_t scheduler_{};
  const void* scheduler_stack_ = nullptr;
  std::size_t scheduler_stack_bytes_ = 0;
  int running_ = -1;
  static inline thread_local fiber_group* current_ = nullptr;
};

}  // namespace modelmix::test::emu::detail
