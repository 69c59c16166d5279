#pragma once
// A 3D volume as the library sees medical images: voxels stored [Z, Y, X] row-major, so x
// varies fastest exactly as in a NIfTI file and slice k (`volume[:, :, k]` in NIfTI terms)
// is the contiguous [Y, X] block at offset k·Y·X. Spacing is in millimetres, (x, y, z).
#include <array>
#include <cstdint>
#include <span>
#include <string>

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

}  // namespace modelmix::data
