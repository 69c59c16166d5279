// Configure-time probe for MODELMIX_CPU_ARCH=auto: does this CPU run 512-bit FMAs at full
// width? AVX-512 helps the direct convolution only where a 512-bit FMA costs what a 256-bit
// one does (Intel Sapphire Rapids, AMD Zen 5); where it is split into two 256-bit halves (AMD
// Zen 4) AVX2 code is as fast and runs everywhere. Prints the choice, the FLOP-rate ratio
// zmm / ymm and both rates.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace {

constexpr int chains = 12;  // independent FMA chains: more than latency × pipes on any x86
constexpr long iterations = 4'000'000;  // ~10 ms per measurement

double rate(double flops_per_iteration, std::chrono::steady_clock::time_point start, float sink) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (sink == 12345.0f) std::puts("");  // keeps the loop alive
  return flops_per_iteration * double(iterations) / seconds;
}

// The same loop twice, each compiled for its instruction set only (the rest of the probe is
// baseline x86-64, so it runs on any CPU and asks before executing either).
__attribute__((target("avx2,fma"))) double ymm_rate() {
  __m256 acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = _mm256_set1_ps(1.0f + 1e-7f * float(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  const auto start = std::chrono::steady_clock::now();
  for (long it = 0; it < iterations; ++it)
#pragma GCC unroll 16  // all chains in registers: a loop over an in-memory array measures store forwarding
    for (int i = 0; i < chains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float sink = 0;
  for (int i = 0; i < chains; ++i) sink += _mm256_cvtss_f32(acc[i]);
  return rate(2.0 * 8 * chains, start, sink);
}
__attribute__((target("avx512f"))) double zmm_rate() {
  __m512 acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = _mm512_set1_ps(1.0f + 1e-7f * float(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  const auto start = std::chrono::steady_clock::now();
  for (long it = 0; it < iterations; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < chains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  float sink = 0;
  for (int i = 0; i < chains; ++i) sink += _mm512_cvtss_f32(acc[i]);
  return rate(2.0 * 16 * chains, start, sink);
}

}  // namespace

int main() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::printf("none;0\n");
    return 0;
  }
  if (!__builtin_cpu_supports("avx512f")) {
    std::printf("avx2;0\n");
    return 0;
  }
  // The best rate of each over five alternated rounds: a shared machine stalls now and then,
  // and a stall only ever lowers a rate.
  double ymm = 0, zmm = 0;
  for (int round = 0; round < 5; ++round) {
    ymm = std::max(ymm, ymm_rate());
    zmm = std::max(zmm, zmm_rate());
  }
  const double best = zmm / ymm;
  // Full width gives ~2 (AMD Zen 5: 2.00, 226 vs 112 GFLOP/s per core), split halves ~1.
  // Then the single-core peaks in GFLOP/s (docs/benchmarks.md quotes them as "FMA peak").
  std::printf("%s;%.2f;ymm %.1f;zmm %.1f\n", best >= 1.3 ? "native" : "avx2", best, ymm * 1e-9, zmm * 1e-9);
  return 0;
}
