#pragma once
// Is one method better than another on the same volumes, or is the gap the volumes' noise?
// Two runs evaluated on one validation set give a score per volume each; the comparison is
// paired (volume by volume), as segmentation papers report it:
//
//   d_i = first_i − other_i                 (the first run's lead on volume i)
//   wins / losses / ties                    count of d_i > 0, < 0, = 0
//   mean_difference                         mean of d_i
//   ci95                                    percentile bootstrap of the mean of d (resampling
//                                           volumes with replacement; seeded, so reproducible)
//   wilcoxon_p                              two-sided Wilcoxon signed-rank test of "d is
//                                           symmetric about 0": zero differences dropped, tied
//                                           |d| get their average rank. Exact (all 2^n sign
//                                           flips of the observed ranks, so exact with ties too)
//                                           up to wilcoxon_exact_max volumes; above, the normal
//                                           approximation with the tie-corrected variance and
//                                           no continuity correction (scipy's default).
//
// The interval and p-value are over the validation volumes for one trained pair: they say
// whether the gap exceeds what the choice of volumes explains, not whether it survives
// retraining with another seed — for that, compare runs of several seeds.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/core/hash.hpp"

namespace modelmix::method {

inline constexpr std::size_t wilcoxon_exact_max = 50;  // 2^50 sign flips still count exactly in a double

struct paired_comparison {
  std::size_t volumes = 0, wins = 0, losses = 0, ties = 0;
  double mean_difference = 0;
  double ci95_low = 0, ci95_high = 0;
  double wilcoxon_p = 1;
};

// Average ranks (1-based) of |d| over the nonzero differences, in their order.
[[nodiscard]] inline std::vector<double> signed_rank_magnitudes(std::span<const double> nonzero) {
  std::vector<std::size_t> order(nonzero.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return std::abs(nonzero[a]) < std::abs(nonzero[b]); });
  std::vector<double> rank(nonzero.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && std::abs(nonzero[order[j + 1]]) == std::abs(nonzero[order[i]])) ++j;
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = double(i + j + 2) / 2;  // mean of ranks i+1 … j+1
    i = j + 1;
  }
  return rank;
}

// Two-sided p-value of the Wilcoxon signed-rank test; 1 when every difference is zero.
[[nodiscard]] inline double wilcoxon_signed_rank_p(std::span<const double> differences) {
  std::vector<double> d;
  for (double v : differences) {
    MODELMIX_REQUIRE(std::isfinite(v), "wilcoxon_signed_rank_p: a difference is not finite");
    if (v != 0) d.push_back(v);
  }
  const std::size_t n = d.size();
  if (n == 0) return 1;
  const std::vector<double> rank = signed_rank_magnitudes(d);
  double w_plus = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (d[i] > 0) w_plus += rank[i];

  if (n <= wilcoxon_exact_max) {
    // Ranks are multiples of ½: count the sign flips by their doubled positive rank sum.
    std::vector<double> count{1};
    for (double r : rank) {
      const std::size_t step = std::size_t(std::lround(2 * r));
      std::vector<double> next(count.size() + step, 0.0);
      for (std::size_t s = 0; s < count.size(); ++s) next[s] += count[s], next[s + step] += count[s];
      count = std::move(next);
    }
    const std::size_t observed = std::size_t(std::lround(2 * w_plus));
    double below = 0, above = 0;  // P(W+ ≤ w), P(W+ ≥ w), as counts
    for (std::size_t s = 0; s < count.size(); ++s) {
      if (s <= observed) below += count[s];
      if (s >= observed) above += count[s];
    }
    return std::min(1.0, 2 * std::min(below, above) / std::ldexp(1.0, int(n)));
  }
  const double nn = double(n);
  double tie_term = 0;  // Σ (t³ − t) over groups of tied ranks
  std::vector<double> sorted = rank;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && sorted[j] == sorted[i]) ++j;
    const double t = double(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  const double mean = nn * (nn + 1) / 4, var = nn * (nn + 1) * (2 * nn + 1) / 24 - tie_term / 48;
  if (var <= 0) return 1;
  return std::min(1.0, std::erfc(std::abs(w_plus - mean) / std::sqrt(2 * var)));
}

// Percentile bootstrap interval of the mean of `differences` (level 0.95: the 2.5 % and 97.5 %
// points of `resamples` means of volumes drawn with replacement). Counter-based draws
// (splitmix64 of seed and draw index), so every platform gets the same interval.
[[nodiscard]] inline std::pair<double, double> bootstrap_mean_interval(std::span<const double> differences,
                                                                       double level = 0.95,
                                                                       std::size_t resamples = 10000,
                                                                       std::uint64_t seed = 1) {
  MODELMIX_REQUIRE(!differences.empty(), "bootstrap_mean_interval: no values");
  MODELMIX_REQUIRE(level > 0 && level < 1 && resamples > 0, "bootstrap_mean_interval: level ", level,
                   " must be in (0, 1) and resamples ", resamples, " positive");
  const std::size_t n = differences.size();
  std::vector<double> means(resamples);
  std::uint64_t draw = splitmix64(seed);
  for (double& m : means) {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += differences[splitmix64(draw++) % n];
    m = sum / double(n);
  }
  std::sort(means.begin(), means.end());
  const auto at = [&](double q) {
    return means[std::min(resamples - 1, std::size_t(std::floor(q * double(resamples))))];
  };
  const double tail = (1 - level) / 2;
  return {at(tail), at(1 - tail)};
}

// The paired comparison of two runs' scores on the same volumes (first[i] and other[i] belong
// to volume i).
[[nodiscard]] inline paired_comparison compare_paired(std::span<const double> first, std::span<const double> other) {
  MODELMIX_REQUIRE(first.size() == other.size(), "compare_paired: ", first.size(), " and ", other.size(),
                   " scores; pair them by volume");
  MODELMIX_REQUIRE(!first.empty(), "compare_paired: no volumes");
  paired_comparison c;
  std::vector<double> d(first.size());
  for (std::size_t i = 0; i < d.size(); ++i) {
    MODELMIX_REQUIRE(std::isfinite(first[i]) && std::isfinite(other[i]), "compare_paired: volume ", i,
                     " has a score that is not finite");
    d[i] = first[i] - other[i];
    (d[i] > 0 ? c.wins : d[i] < 0 ? c.losses : c.ties) += 1;
  }
  c.volumes = d.size();
  c.mean_difference = std::accumulate(d.begin(), d.end(), 0.0) / double(d.size());
  std::tie(c.ci95_low, c.ci95_high) = bootstrap_mean_interval(d);
  c.wilcoxon_p = wilcoxon_signed_rank_p(d);
  return c;
}

}  // namespace modelmix::method
