#pragma once
// Per-volume z-score normalisation, as the reference code does before slicing:
//   x̂ = (x − μ) / σ,   μ = mean of all voxels,  σ = population standard deviation
// (numpy's img.std(), divisor N). Statistics are accumulated in double whatever T is. A
// constant volume (σ ≤ eps) is only centred, so it becomes all zeros instead of NaN.
#include <cmath>
#include <span>

#include "modelmix/core/error.hpp"
#include "modelmix/data/volume.hpp"

namespace modelmix::data {

struct zscore_stats {
  double mean = 0;
  double stddev = 1;
};

template <class T>
[[nodiscard]] zscore_stats compute_zscore_stats(std::span<const T> values) {
  MODELMIX_REQUIRE(!values.empty(), "compute_zscore_stats: empty input");
  double sum = 0;
  for (T v : values) sum += double(v);
  const double mean = sum / double(values.size());
  double squares = 0;  // two passes: no cancellation for large, far-from-zero intensities
  for (T v : values) squares += (double(v) - mean) * (double(v) - mean);
  return {mean, std::sqrt(squares / double(values.size()))};
}

// In place, with given statistics (e.g. those of another volume).
template <class T>
void apply_zscore(std::span<T> values, const zscore_stats& stats, double eps = 1e-8) {
  const double scale = stats.stddev > eps ? 1.0 / stats.stddev : 1.0;
  for (T& v : values) v = T((double(v) - stats.mean) * scale);
}

template <class T>
zscore_stats zscore_normalize(Volume<T>& volume, double eps = 1e-8) {
  MODELMIX_REQUIRE(volume.voxels.numel() > 0, "zscore_normalize: volume '", volume.name, "' is empty");
  const zscore_stats stats = compute_zscore_stats(std::span<const T>(volume.voxels.span()));
  apply_zscore(volume.voxels.span(), stats, eps);
  return stats;
}

template <class T>
[[nodiscard]] Volume<T> zscore_normalized(Volume<T> volume, double eps = 1e-8) {
  zscore_normalize(volume, eps);
  return volume;
}

}  // namespace modelmix::data
