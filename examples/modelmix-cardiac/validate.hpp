#pragma once
// Checks of numeric command-line options, done before any work starts: each names the option,
// the allowed range and the value given ("--lr inf: must be a finite number in (0, 1]").
#ifdef _OPENMP
#include <omp.h>
#endif

#include <CLI/CLI.hpp>

#include <cmath>
#include <string>
#include <thread>

#include "modelmix/core/error.hpp"

namespace modelmix_cardiac {

template <class I>
void require_in_range(const char* option, I value, long long lo, long long hi) {
  MODELMIX_REQUIRE(static_cast<long long>(value) >= lo && static_cast<long long>(value) <= hi, option, " ", value,
                   ": must be an integer in [", lo, ", ", hi, "]");
}

// A finite number in (lo, hi].
inline void require_finite_in(const char* option, double value, double lo, double hi) {
  MODELMIX_REQUIRE(std::isfinite(value) && value > lo && value <= hi, option, " ", value,
                   ": must be a finite number in (", lo, ", ", hi, "]");
}

// Processors this program may use: OpenMP's view when built with it, else the C++ runtime's.
[[nodiscard]] inline int hardware_threads() {
#ifdef _OPENMP
  const int n = omp_get_num_procs();
#else
  const int n = static_cast<int>(std::thread::hardware_concurrency());
#endif
  return n > 0 ? n : 1;
}

// --threads of every command that runs a network (demo, train, predict, evaluate, interpolate).
inline void add_threads_option(CLI::App* cmd, int& threads) {
  cmd->add_option("--threads", threads, "OpenMP threads (0 = default, at most the hardware threads)")
      ->capture_default_str();
}

// --threads: 0 keeps the default; otherwise 1..hardware_threads(). Applied to OpenMP.
inline void apply_threads_option(int threads) {
  const int limit = hardware_threads();
  MODELMIX_REQUIRE(threads >= 0 && threads <= limit, "--threads ", threads, ": must be 0 (default) or 1..", limit,
                   " (the hardware threads of this machine)");
#ifdef _OPENMP
  if (threads > 0) omp_set_num_threads(threads);
#endif
}

// A U-Net input of size S passes 2^(depth-1) poolings. `prefix` precedes the setting's name:
// "--" on the command line, "" for run.json fields.
inline void require_network_shape(long long size, long long width, int depth, const std::string& prefix = "--") {
  require_in_range((prefix + "depth").c_str(), depth, 1, 8);
  require_in_range((prefix + "width").c_str(), width, 1, 512);
  require_in_range((prefix + "size").c_str(), size, 8, 2048);
  const long long multiple = 1LL << (depth - 1);
  MODELMIX_REQUIRE(size % multiple == 0, prefix, "size ", size, ": must be divisible by 2^(depth-1) = ", multiple,
                   " for ", prefix, "depth ", depth);
}

}  // namespace modelmix_cardiac
