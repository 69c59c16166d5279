// Paired comparison of two runs: Wilcoxon signed-rank p-values by hand (with and without tied
// ranks) and against brute force over every sign flip, the normal approximation by its formula,
// the bootstrap interval on cases whose distribution is known, and compare_paired's counts.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "modelmix/method/paired_comparison.hpp"

namespace method = modelmix::method;

namespace {

// P-value by enumerating all 2^n sign flips of the ranks (n small).
double brute_force_p(const std::vector<double>& d) {
  std::vector<double> nz;
  for (double v : d)
    if (v != 0) nz.push_back(v);
  const std::vector<double> rank = method::signed_rank_magnitudes(nz);
  double w = 0;
  for (std::size_t i = 0; i < nz.size(); ++i)
    if (nz[i] > 0) w += rank[i];
  const std::size_t flips = std::size_t(1) << nz.size();
  double below = 0, above = 0;
  for (std::size_t m = 0; m < flips; ++m) {
    double s = 0;
    for (std::size_t i = 0; i < nz.size(); ++i)
      if (m >> i & 1) s += rank[i];
    below += s <= w + 1e-9;
    above += s >= w - 1e-9;
  }
  return std::min(1.0, 2 * std::min(below, above) / double(flips));
}

}  // namespace

TEST_CASE("signed ranks: average ranks for tied magnitudes, signs ignored", "[method][paired]") {
  const std::vector<double> d{0.3, -0.1, 0.1, -0.2, 0.1};
  // |d| sorted: .1 .1 .1 .2 .3 -> ranks 2 2 2 4 5
  CHECK(method::signed_rank_magnitudes(d) == std::vector<double>{5, 2, 2, 4, 2});
}

TEST_CASE("Wilcoxon signed-rank: hand-computed exact p-values", "[method][paired]") {
  // ranks of |d|: .05→1 .1→2 .2→3 .3→4; W+ = 9 of at most 10; sums ≥ 9: {2,3,4}, {1,2,3,4} -> 2/16
  CHECK(method::wilcoxon_signed_rank_p(std::vector<double>{0.1, 0.2, -0.05, 0.3}) == Approx(0.25));
  // ties: ranks 1.5, 1.5, 3; W+ = 4.5; sign-flip sums 0 1.5 1.5 3 3 4.5 4.5 6 -> P(≥ 4.5) = 3/8
  CHECK(method::wilcoxon_signed_rank_p(std::vector<double>{0.1, -0.1, 0.2}) == Approx(0.75));
  // all positive: only one flip as extreme on each side -> 2 / 2^n
  CHECK(method::wilcoxon_signed_rank_p(std::vector<double>(10, 0.5)) == Approx(2.0 / 1024));
  CHECK(method::wilcoxon_signed_rank_p(std::vector<double>{-1, -2, -3, -4, -5, -6}) == Approx(2.0 / 64));
  // zeros are dropped; none left -> 1
  CHECK(method::wilcoxon_signed_rank_p(std::vector<double>{0, 0.1, 0, 0.2, -0.05, 0.3}) == Approx(0.25));
  CHECK(method::wilcoxon_signed_rank_p(std::vector<double>{0, 0}) == 1.0);
  // symmetric: W+ at the middle of the distribution -> capped at 1
  CHECK(method::wilcoxon_signed_rank_p(std::vector<double>{0.1, -0.1}) == 1.0);
}

TEST_CASE("Wilcoxon signed-rank: exact p-values equal brute force over every sign flip", "[method][paired]") {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.02, 0.05);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<double> d(std::size_t(3 + trial % 12));
    for (double& v : d) v = std::round(noise(rng) * 100) / 100;  // rounded: ties and zeros happen
    CAPTURE(trial, d);
    CHECK(method::wilcoxon_signed_rank_p(d) == Approx(brute_force_p(d)).epsilon(1e-12));
  }
}

TEST_CASE("Wilcoxon signed-rank: the normal approximation above the exact range", "[method][paired]") {
  const std::size_t n = method::wilcoxon_exact_max + 10;
  std::vector<double> d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = (i % 3 == 0 ? -1.0 : 1.0) * double(i + 1);  // ranks i + 1
  double w = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (d[i] > 0) w += double(i + 1);
  const double nn = double(n), mean = nn * (nn + 1) / 4, sd = std::sqrt(nn * (nn + 1) * (2 * nn + 1) / 24);
  const double z = (w - mean) / sd;
  CHECK(method::wilcoxon_signed_rank_p(d) == Approx(std::erfc(std::abs(z) / std::sqrt(2.0))));
  // tied magnitudes: |d| = 1 1 1 2 2 2 … 20 (20 groups of 3, average ranks 3g + 2), the first of each
  // group negative: W+ = Σ 2·(3g + 2) = 1220, mean 60·61/4 = 915, variance 60·61·121/24 − 20·(3³ − 3)/48
  std::vector<double> tied(60);
  for (std::size_t i = 0; i < tied.size(); ++i) tied[i] = (i % 3 == 0 ? -1.0 : 1.0) * double(i / 3 + 1);
  CHECK(method::wilcoxon_signed_rank_p(tied) == Approx(std::erfc((1220.0 - 915.0) / std::sqrt(2 * 18442.5))));
  // the exact and approximate p-values agree closely at the boundary size (p ≈ .04 here)
  std::vector<double> e(method::wilcoxon_exact_max);
  for (std::size_t i = 0; i < e.size(); ++i) e[i] = (i % 3 == 0 ? -1.0 : 1.0) * double(i + 1);
  double we = 0;
  for (std::size_t i = 0; i < e.size(); ++i)
    if (e[i] > 0) we += double(i + 1);
  const double ne = double(e.size()), me = ne * (ne + 1) / 4, se = std::sqrt(ne * (ne + 1) * (2 * ne + 1) / 24);
  CHECK(method::wilcoxon_signed_rank_p(e) == Approx(std::erfc(std::abs(we - me) / se / std::sqrt(2.0))).epsilon(0.02));
}

TEST_CASE("bootstrap interval of the mean: known distributions", "[method][paired]") {
  // constant differences: every resample has the same mean
  const auto [lo, hi] = method::bootstrap_mean_interval(std::vector<double>(7, 0.05));
  CHECK(lo == Approx(0.05));
  CHECK(hi == Approx(0.05));
  // two values ±.1: resample means −.1, 0, .1 with probabilities ¼ ½ ¼ -> the 2.5 % and 97.5 % points
  const auto [l2, h2] = method::bootstrap_mean_interval(std::vector<double>{0.1, -0.1});
  CHECK(l2 == Approx(-0.1));
  CHECK(h2 == Approx(0.1));
  // a wide sample: the interval holds the mean, is roughly ±1.96·sd/√n, and repeats exactly
  std::vector<double> d;
  for (int i = 0; i < 200; ++i) d.push_back(i % 2 ? 1.0 : 0.0);  // mean .5, sd .5 -> ±.069
  const auto [l3, h3] = method::bootstrap_mean_interval(d);
  CHECK(l3 == Approx(0.5 - 0.0693).margin(0.01));
  CHECK(h3 == Approx(0.5 + 0.0693).margin(0.01));
  CHECK(method::bootstrap_mean_interval(d) == std::pair(l3, h3));
  std::vector<double> smooth;  // continuous values: another seed moves the interval's ends
  for (int i = 0; i < 50; ++i) smooth.push_back(std::sin(double(i)));
  CHECK(method::bootstrap_mean_interval(smooth, 0.95, 10000, 1) != method::bootstrap_mean_interval(smooth, 0.95, 10000, 2));
  CHECK_THROWS_WITH(method::bootstrap_mean_interval(std::vector<double>{}), Catch::Contains("no values"));
  CHECK_THROWS_WITH(method::bootstrap_mean_interval(d, 1.0), Catch::Contains("level 1"));
}

TEST_CASE("compare_paired: counts, mean difference and the first run's sign", "[method][paired]") {
  const std::vector<double> first{0.8, 0.7, 0.6, 0.5}, other{0.7, 0.5, 0.65, 0.2};  // d = .1 .2 −.05 .3
  const method::paired_comparison c = method::compare_paired(first, other);
  CHECK(c.volumes == 4);
  CHECK(c.wins == 3);
  CHECK(c.losses == 1);
  CHECK(c.ties == 0);
  CHECK(c.mean_difference == Approx(0.1375));
  CHECK(c.wilcoxon_p == Approx(0.25));
  CHECK(c.ci95_low <= c.mean_difference);
  CHECK(c.ci95_high >= c.mean_difference);
  // the 256 equally likely resamples of four values put their 2.5 % and 97.5 % points at .0125 and .25
  CHECK(c.ci95_low == Approx(0.0125).margin(0.015));
  CHECK(c.ci95_high == Approx(0.25).margin(0.015));
  const method::paired_comparison r = method::compare_paired(other, first);
  CHECK(r.wins == 1);
  CHECK(r.mean_difference == Approx(-0.1375));
  CHECK(r.wilcoxon_p == Approx(0.25));
  CHECK(method::compare_paired(std::vector<double>{0.5, 0.5}, std::vector<double>{0.5, 0.5}).ties == 2);
  CHECK_THROWS_WITH(method::compare_paired(first, std::vector<double>{0.1}), Catch::Contains("pair them by volume"));
  CHECK_THROWS_WITH(method::compare_paired(std::vector<double>{NAN}, std::vector<double>{0.1}),
                    Catch::Contains("volume 0"));
}
