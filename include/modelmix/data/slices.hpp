#pragma once
// Volumes → 2D training/inference samples, and predictions back to volumes.
//
//   image volume [Z, H, W] (raw) ──z-score over the whole volume──▶ slice z [H, W]
//       ──centre crop/pad──▶ image [1, S, S] float (pad 0 = the volume mean after z-score)
//   scribble volume [Z, H, W] ──▶ scribble [S, S] uint8 (pad `scribble_fill`, default 4 =
//       unlabeled; the reference code pads with 0 = background, pass 0 to reproduce it)
//   dense label volume [Z, H, W] ──▶ label [S, S] uint8 (pad `label_fill`, default 0)
// The slice remembers its volume, its z and its original H×W, so assemble_volume() can
// paste S×S predictions back onto the original grid (data/crop_pad.hpp).
#include <span>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/crop_pad.hpp"
#include "modelmix/data/normalize.hpp"
#include "modelmix/data/volume.hpp"

namespace modelmix::data {

inline constexpr label_t unlabeled_label = 4;

struct slice_options {
  index_t size = 96;  // S; the original uses 256 for ACDC/MS-CMR, 192 for MyoPS
  bool normalize = true;  // per-volume z-score before slicing
  label_t scribble_fill = unlabeled_label;
  label_t label_fill = 0;
};

struct slice_sample {
  Tensor<float> image;      // [1, S, S]
  Tensor<label_t> scribble;  // [S, S]; all unlabeled when the volume has no scribbles
  Tensor<label_t> label;     // [S, S], or empty when the volume has no dense labels
  index_t volume = 0;        // caller's volume index
  index_t z = 0;
  index_t height = 0, width = 0;  // the slice's original H×W

  [[nodiscard]] bool has_label() const { return !label.empty(); }
  [[nodiscard]] bool has_scribbles(label_t ignore = unlabeled_label) const {
    for (label_t v : scribble.span())
      if (v != ignore) return true;
    return false;
  }
};

namespace slices_detail {
template <class T>
[[nodiscard]] Tensor<T> plane(std::span<const T> values, index_t h, index_t w) {
  return Tensor<T>(Shape{h, w}, std::vector<T>(values.begin(), values.end()));
}
}  // namespace slices_detail

// One sample per slice z. `scribble` and `label` may be null; a missing scribble volume gives
// all-unlabeled scribbles (an unlabeled volume of the few-scribble split).
[[nodiscard]] inline std::vector<slice_sample> volume_slices(const ImageVolume& image, const LabelVolume* scribble,
                                                             const LabelVolume* label, const slice_options& options,
                                                             index_t volume_index = 0) {
  MODELMIX_REQUIRE(options.size > 0, "volume_slices: size must be positive, got ", options.size);
  MODELMIX_REQUIRE(image.voxels.rank() == 3, "volume_slices: image '", image.name, "' must be [Z, Y, X], got ",
                   image.voxels.shape());
  for (const LabelVolume* v : {scribble, label})
    MODELMIX_REQUIRE(!v || v->voxels.shape() == image.voxels.shape(), "volume_slices: ", v == scribble ? "scribble" : "label",
                     " volume '", v->name, "' has shape ", v->voxels.shape(), ", image '", image.name, "' has ",
                     image.voxels.shape());
  const ImageVolume normalized = options.normalize ? zscore_normalized(image) : image;
  const index_t Z = image.nz(), H = image.ny(), W = image.nx(), S = options.size;
  std::vector<slice_sample> out;
  out.reserve(std::size_t(Z));
  for (index_t z = 0; z < Z; ++z) {
    slice_sample s;
    s.volume = volume_index;
    s.z = z;
    s.height = H;
    s.width = W;
    s.image = centre_crop_pad(slices_detail::plane(normalized.slice(z), H, W), S, S, 0.0f).reshaped(Shape{1, S, S});
    s.scribble = scribble ? centre_crop_pad(slices_detail::plane(scribble->slice(z), H, W), S, S, options.scribble_fill)
                          : Tensor<label_t>(Shape{S, S}, unlabeled_label);
    if (label) s.label = centre_crop_pad(slices_detail::plane(label->slice(z), H, W), S, S, options.label_fill);
    out.push_back(std::move(s));
  }
  return out;
}

// Stack per-slice S×S label maps (z = 0 … Z−1, in order) back onto the grid of `reference`;
// voxels outside the S×S window get `fill`. Name and spacing come from `reference`.
template <class U>
[[nodiscard]] LabelVolume assemble_volume(std::span<const Tensor<label_t>> slices, const Volume<U>& reference,
                                          label_t fill = 0) {
  const index_t Z = reference.nz(), H = reference.ny(), W = reference.nx();
  MODELMIX_REQUIRE(index_t(slices.size()) == Z, "assemble_volume: ", slices.size(), " slices for volume '", reference.name,
                   "' with ", Z, " slices");
  LabelVolume out{Tensor<label_t>(Shape{Z, H, W}, fill), reference.spacing, reference.name};
  for (index_t z = 0; z < Z; ++z) {
    const Tensor<label_t>& s = slices[std::size_t(z)];
    MODELMIX_REQUIRE(s.rank() == 2, "assemble_volume: slice ", z, " must be [S, S], got ", s.shape());
    const Tensor<label_t> pasted = paste_back(s, H, W, fill);
    std::copy(pasted.span().begin(), pasted.span().end(), out.slice(z).begin());
  }
  return out;
}

}  // namespace modelmix::data
