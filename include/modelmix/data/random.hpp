#pragma once
// Seeded randomness for the data pipeline. Results must depend on the seed only, not on the
// standard library, so the distributions are written out here instead of taken from
// <random> (whose uniform_real/normal/shuffle algorithms differ between implementations):
//   uniform()   = (u64 >> 11) · 2⁻⁵³                      ∈ [0, 1)
//   below(n)    = rejection sampling on the top bits       ∈ {0, …, n−1}, unbiased
//   normal()    = Box–Muller, one value per call (no cached second value, so a stream's
//                 output never depends on how many normals were drawn before)
// derive_seed() turns (seed, a, b) into an independent stream seed with splitmix64, so a
// subject, an epoch or a batch slot each get their own reproducible stream.
#include "modelmix/core/hash.hpp"
#include <cmath>
#include <cstdint>
#include <iterator>
#include <numbers>
#include <random>
#include <utility>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/core/shape.hpp"

namespace modelmix::data {

using modelmix::splitmix64;  // core/hash.hpp

[[nodiscard]] constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b);
}

class random_source {
 public:
  explicit random_source(std::uint64_t seed) : engine_(seed) {}

  [[nodiscard]] std::uint64_t bits() { return engine_(); }
  [[nodiscard]] double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  [[nodiscard]] double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  [[nodiscard]] bool bernoulli(double p) { return uniform() < p; }

  [[nodiscard]] index_t below(index_t n) {
    MODELMIX_REQUIRE(n > 0, "random_source::below: n must be positive, got ", n);
    const auto range = static_cast<std::uint64_t>(n);
    // Accept only draws from the largest multiple of n, so every residue is equally likely.
    const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % range);
    std::uint64_t x = engine_();
    while (x >= limit) x = engine_();
    return static_cast<index_t>(x % range);
  }
  // Uniform integer in [lo, hi], both ends included.
  [[nodiscard]] index_t between(index_t lo, index_t hi) {
    MODELMIX_REQUIRE(lo <= hi, "random_source::between: empty range [", lo, ", ", hi, "]");
    return lo + below(hi - lo + 1);
  }

  [[nodiscard]] double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1], keeps log finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  [[nodiscard]] double normal(double mean, double stddev) { return mean + stddev * normal(); }

  // Fisher–Yates with below(), identical on every platform.
  template <class Range>
  void shuffle(Range& range) {
    const auto n = static_cast<index_t>(std::size(range));
    for (index_t i = n - 1; i > 0; --i) {
      const index_t j = below(i + 1);
      using std::swap;
      swap(range[static_cast<std::size_t>(i)], range[static_cast<std::size_t>(j)]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

// 0, …, n−1 in a seeded random order.
[[nodiscard]] inline std::vector<index_t> seeded_permutation(index_t n, std::uint64_t seed) {
  MODELMIX_REQUIRE(n >= 0, "seeded_permutation: negative size ", n);
  std::vector<index_t> order(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) order[std::size_t(i)] = i;
  random_source rng(seed);
  rng.shuffle(order);
  return order;
}

}  // namespace modelmix::data
