#pragma once
// Shared by the training commands (demo, train): the progress line.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <new>
#include <string>


#include "modelmix/method/step_memory.hpp"
#include "modelmix/method/trainer.hpp"

namespace modelmix_cardiac {

// "step 120/600  loss 1.234 [cine 0.61 lge 0.62]  3.1 steps/s  ETA 2m30s" on stderr; redrawn in
// place on a terminal, one line per 10 % otherwise (logs, CI).
class progress_line {
 public:
  progress_line(std::string label, long long total) : label_(std::move(label)), total_(total), tty_(isatty(2)) {}

  void update(const modelmix::method::step_report& r, const modelmix::method::Trainer& trainer) {
    const long long done = r.step + 1;
    const double elapsed = seconds();
    const double rate = (done - first_) / std::max(elapsed, 1e-9);
    const bool milestone = done == total_ || (done * 10 / total_) != ((done - 1) * 10 / total_);
    if (!tty_ && !milestone) return;
    std::string tasks;
    for (std::size_t t = 0; t < r.tasks.size(); ++t)
      tasks += modelmix::cat(t ? " " : "", trainer.task_name(t), " ", fixed(r.tasks[t].total, 3));
    std::fprintf(stderr, "%s[%s] step %lld/%lld  loss %s [%s]  %.2f steps/s  ETA %s%s", tty_ ? "\r\033[K" : "",
                 label_.c_str(), done, total_, fixed(r.total, 3).c_str(), tasks.c_str(), rate,
                 duration(double(total_ - done) / std::max(rate, 1e-9)).c_str(), tty_ && done != total_ ? "" : "\n");
    std::fflush(stderr);
  }
  void resume_from(long long step) { first_ = step; }
  // Time spent on something other than training (validation) leaves the rate and the ETA.
  void exclude(double seconds) {
    start_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  }
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  static std::string duration(double s) {
    const long long total = std::llround(s);
    return total >= 60 ? modelmix::cat(total / 60, "m", total % 60, "s") : modelmix::cat(total, "s");
  }
  static std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
  }

 private:
  std::string label_;
  long long total_, first_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// --memory-budget GIB (0: 80 % of this machine's memory). A training step that would need more
// host memory than that is refused before training, with its size and what to change; the
// step's memory is measured on two tiny probe steps (method/step_memory.hpp).
inline double memory_budget_bytes(double gib) {
  MODELMIX_REQUIRE(std::isfinite(gib) && gib >= 0 && gib <= 1 << 20, "--memory-budget ", gib,
                   ": must be a number of GiB in [0, 1048576] (0 = 80 % of this machine's memory)");
  if (gib > 0) return gib * double(1 << 30);
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? 0.8 * double(pages) * double(page) : 16.0 * double(1 << 30);
}

inline void require_step_fits(const modelmix::method::trainer_options& o, std::size_t tasks, long long size,
                              double budget_gib) {
  const double budget = memory_budget_bytes(budget_gib);
  const double needed = modelmix::method::measure_step_memory(o, tasks).bytes(o.batch_size, size);
  const auto gib = [](double bytes) { return modelmix::cat(progress_line::fixed(bytes / double(1 << 30), 2), " GiB"); };
  MODELMIX_REQUIRE(needed <= budget, "a ", modelmix::method::to_string(o.method), " step of ", tasks, " task(s) at --batch ",
                   o.batch_size, " --size ", size, " --width ", o.network.width, " --depth ", o.network.depth,
                   " needs about ", gib(needed), " of memory, over the budget of ", gib(budget),
                   budget_gib > 0 ? " (--memory-budget)" : " (80 % of this machine's memory; --memory-budget GIB sets it)",
                   "; lower --batch, --size or --width");
}

// std::bad_alloc inside a step becomes an error naming the step (the budget check above makes
// this rare: another process may still take the memory).
template <class Step>
auto step_or_name_it(long long step, Step&& run) {
  try {
    return run();
  } catch (const std::bad_alloc&) {
    throw modelmix::error(modelmix::cat("step ", step, ": out of memory while training (the step's tensors did not fit); "
                                        "lower --batch, --size or --width, or free memory"));
  }
}

}  // namespace modelmix_cardiac
