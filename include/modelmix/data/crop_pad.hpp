#pragma once
// Centre crop/pad of the last two axes, [..., H, W] → [..., S_h, S_w], the way the
// reference code (center_pad in data/transforms.py) fits every slice to the network's input:
//   out[..., i, j] = in[..., i + o_h, j + o_w]   where that index lies inside the input,
//                    fill                         elsewhere (padding),
//   o = ⌊(H − S) / 2⌋   (floor, as Python's //): an odd surplus is cropped one more row at
//                        the end, an odd deficit padded one more row at the start.
// paste_back() applies the window in reverse (offset −o): a prediction made on the S×S
// crop lands on the voxels it came from, and the rest of the H×W grid gets `fill`
// (e.g. 0 = background for label maps).
//
// Fill values used by the pipeline: images are padded with 0 *after* z-score
// normalisation (the volume mean, as the reference code does), scribbles with 4
// (unlabeled, so padding never adds supervision), dense labels with 0 (background).
#include <algorithm>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::data {

// Offset o of the centre window along one axis (source index = target index + o).
[[nodiscard]] constexpr index_t centre_offset(index_t from, index_t to) {
  const index_t d = from - to;
  return d >= 0 ? d / 2 : -((-d + 1) / 2);
}

// out[..., i, j] = in[..., i + offset_h, j + offset_w] where inside, else fill.
template <class T>
[[nodiscard]] Tensor<T> shifted_window(const Tensor<T>& input, index_t out_h, index_t out_w, index_t offset_h,
                                       index_t offset_w, T fill) {
  MODELMIX_REQUIRE(input.rank() >= 2, "centre_crop_pad: input needs rank ≥ 2 ([..., H, W]), got shape ", input.shape());
  MODELMIX_REQUIRE(out_h > 0 && out_w > 0, "centre_crop_pad: target size must be positive, got ", out_h, "×", out_w);
  const int r = input.rank();
  const index_t H = input.dim(r - 2), W = input.dim(r - 1);
  const index_t planes = H * W > 0 ? input.numel() / (H * W) : 0;
  std::vector<index_t> dims = input.shape().dims();
  dims[std::size_t(r - 2)] = out_h;
  dims[std::size_t(r - 1)] = out_w;
  Tensor<T> out(Shape(std::move(dims)), fill);
  // Target rows/columns whose source lies inside the input.
  const index_t i0 = std::max<index_t>(0, -offset_h), i1 = std::min(out_h, H - offset_h);
  const index_t j0 = std::max<index_t>(0, -offset_w), j1 = std::min(out_w, W - offset_w);
  if (i0 >= i1 || j0 >= j1) return out;
  for (index_t p = 0; p < planes; ++p) {
    const T* src = input.data() + p * H * W;
    T* dst = out.data() + p * out_h * out_w;
    for (index_t i = i0; i < i1; ++i)
      std::copy(src + (i + offset_h) * W + j0 + offset_w, src + (i + offset_h) * W + j1 + offset_w, dst + i * out_w + j0);
  }
  return out;
}

template <class T>
[[nodiscard]] Tensor<T> centre_crop_pad(const Tensor<T>& input, index_t out_h, index_t out_w, T fill = T(0)) {
  MODELMIX_REQUIRE(input.rank() >= 2, "centre_crop_pad: input needs rank ≥ 2 ([..., H, W]), got shape ", input.shape());
  const int r = input.rank();
  return shifted_window(input, out_h, out_w, centre_offset(input.dim(r - 2), out_h), centre_offset(input.dim(r - 1), out_w),
                        fill);
}

// The inverse of centre_crop_pad(·, S_h, S_w) for an input of size H×W.
template <class T>
[[nodiscard]] Tensor<T> paste_back(const Tensor<T>& cropped, index_t original_h, index_t original_w, T fill = T(0)) {
  MODELMIX_REQUIRE(cropped.rank() >= 2, "paste_back: input needs rank ≥ 2 ([..., S, S]), got shape ", cropped.shape());
  const int r = cropped.rank();
  return shifted_window(cropped, original_h, original_w, -centre_offset(original_h, cropped.dim(r - 2)),
                        -centre_offset(original_w, cropped.dim(r - 1)), fill);
}

}  // namespace modelmix::data
