#pragma once
// A 3D volume as the library sees medical images: voxels stored [Z, Y, X] row-major, so x
// varies fastest exactly as in a NIfTI file and slice k (`volume[:, :, k]` in NIfTI terms)
// is the contiguous [Y, X] block at offset k·Y·X. Spacing is in millimetres, (x, y, z).
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "modelmix/core/error.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::data {

using label_t = std::uint8_t;  // class ids: 0 bg, 1 RV, 2 Myo, 3 LV; scribbles use 4 = unlabeled

template <class T>
struct Volume {
  Tensor<T> voxels;                             // [Z, Y, X]
  std::array<double, 3> spacing{1.0, 1.0, 1.0};  // mm along x, y, z
  std::string name;                             // case id, e.g. patient071_frame01

  [[nodiscard]] index_t nx() const { return voxels.dim(2); }
  [[nodiscard]] index_t ny() const { return voxels.dim(1); }
  [[nodiscard]] index_t nz() const { return voxels.dim(0); }
  [[nodiscard]] std::span<T> slice(index_t z) {
    return voxels.span().subspan(static_cast<std::size_t>(z * ny() * nx()), static_cast<std::size_t>(ny() * nx()));
  }
  [[nodiscard]] std::span<const T> slice(index_t z) const {
    return voxels.span().subspan(static_cast<std::size_t>(z * ny() * nx()), static_cast<std::size_t>(ny() * nx()));
  }
};

using ImageVolume = Volume<float>;
using LabelVolume = Volume<label_t>;

// What loading does with a NaN or ±Inf voxel. A single one poisons every loss and gradient
// it reaches, so the default refuses the file, naming the first bad voxel.
enum class nonfinite_policy {
  refuse,             // throw modelmix::error naming the file and voxel (i, j, k)
  replace_with_zero,  // set the voxel to 0 and go on
};

// Voxel (i, j, k) — x, y, z as in NIfTI — of flat element `index` on an nx × ny grid.
[[nodiscard]] inline std::string voxel_position(index_t index, index_t nx, index_t ny) {
  const index_t plane = nx * ny;
  return cat("(", index % nx, ", ", (index / nx) % ny, ", ", index / plane, ")");
}

// Apply `policy` to the voxels of `volume`; `source` (the file) names it in the error.
template <class T>
void check_finite(Volume<T>& volume, nonfinite_policy policy, const std::string& source) {
  if constexpr (std::is_floating_point_v<T>) {
    const index_t n = volume.voxels.numel();
    T* v = volume.voxels.data();
    const bool grid = volume.voxels.rank() == 3;
    const index_t nx = grid ? volume.nx() : n, ny = grid ? volume.ny() : 1;
    for (index_t i = 0; i < n; ++i) {
      if (std::isfinite(v[i])) continue;
      MODELMIX_REQUIRE(policy != nonfinite_policy::refuse, source, ": voxel ", voxel_position(i, nx, ny),
                       " (i, j, k) is ", v[i], "; non-finite intensities are refused (load with nonfinite_policy::",
                       "replace_with_zero to set them to 0)");
      v[i] = T(0);
    }
  }
}

}  // namespace modelmix::data
