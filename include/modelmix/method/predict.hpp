#pragma once
// Slice-wise inference on a volume, independent of the model.
//
//   image [Z, H, W] ──per-volume z-score (optional)──▶ slices z … z+B−1, each centre
//   cropped/padded to S×S (data::centre_crop_pad; padding 0 = the volume mean after z-score,
//   as in training) ──▶ batch [B, 1, S, S] ──predict──▶ labels [B, S, S]
//   ──data::paste_back──▶ [Z, H, W] on the original grid.
// Voxels outside the S×S window (only where a slice was cropped) get `fill` (background).
// The result carries the image's name and spacing, so io::write_labels can put it on the
// image's header. Any callable Tensor<T>[B,1,S,S] → Tensor<L>[B,S,S] with integral L works:
// a U-Net wrapped with argmax_channels, a mixed network, a test stub.
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "modelmix/core/error.hpp"
#include "modelmix/data/crop_pad.hpp"
#include "modelmix/data/normalize.hpp"
#include "modelmix/data/volume.hpp"
#include "modelmix/method/postprocess.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::method {

struct PredictOptions {
  index_t size = 256;      // S, the training crop size
  index_t batch = 8;       // slices per call of the predictor
  bool normalize = true;   // per-volume z-score first, as data::volume_slices does for training
  data::label_t fill = 0;  // label of voxels the S×S window does not cover
  bool largest_component = false;  // keep each class's largest 3D component (method/postprocess.hpp)
};

// [B, C, H, W] scores → [B, H, W] class ids (the first maximum wins ties).
template <class T>
[[nodiscard]] Tensor<data::label_t> argmax_channels(const Tensor<T>& scores) {
  MODELMIX_REQUIRE(scores.rank() == 4, "argmax_channels: scores must be [B, C, H, W], got ", scores.shape());
  const index_t B = scores.dim(0), C = scores.dim(1), HW = scores.dim(2) * scores.dim(3);
  MODELMIX_REQUIRE(C >= 1 && C <= 256, "argmax_channels: ", C, " channels do not fit 8-bit class ids");
  Tensor<data::label_t> out(Shape{B, scores.dim(2), scores.dim(3)});
  for (index_t b = 0; b < B; ++b)
    for (index_t p = 0; p < HW; ++p) {
      const T* s = scores.data() + b * C * HW + p;
      index_t best = 0;
      for (index_t c = 1; c < C; ++c)
        if (s[c * HW] > s[best * HW]) best = c;
      out[b * HW + p] = static_cast<data::label_t>(best);
    }
  return out;
}

template <class T, class Predictor>
[[nodiscard]] data::LabelVolume predict_volume(const data::Volume<T>& image, Predictor&& predict,
                                               const PredictOptions& options = {}) {
  MODELMIX_REQUIRE(image.voxels.rank() == 3, "predict_volume: image '", image.name, "' must be [Z, Y, X], got ",
                   image.voxels.shape());
  MODELMIX_REQUIRE(options.size > 0 && options.batch > 0, "predict_volume: size ", options.size, " and batch ",
                   options.batch, " must be positive");
  const index_t Z = image.nz(), H = image.ny(), W = image.nx(), S = options.size;
  const data::Volume<T> input = options.normalize ? data::zscore_normalized(image) : image;
  data::LabelVolume out{Tensor<data::label_t>(Shape{Z, H, W}, options.fill), image.spacing, image.name};

  for (index_t z0 = 0; z0 < Z; z0 += options.batch) {
    const index_t B = std::min(options.batch, Z - z0);
    // [B, H, W] → [B, S, S] → [B, 1, S, S]: slices are contiguous, so this is one crop call.
    Tensor<T> slab(Shape{B, H, W});
    std::copy_n(input.voxels.data() + z0 * H * W, B * H * W, slab.data());
    Tensor<T> batch = data::centre_crop_pad(slab, S, S, T(0)).reshaped(Shape{B, 1, S, S});

    const auto labels = predict(std::as_const(batch));
    using L = typename std::remove_cvref_t<decltype(labels)>::value_type;
    static_assert(std::is_integral_v<L>, "predict_volume: the predictor must return integer labels [B, S, S]");
    MODELMIX_REQUIRE(labels.shape() == Shape({B, S, S}), "predict_volume: image '", image.name,
                     "': the predictor returned ", labels.shape(), " for a batch of ", B, " slices, expected ",
                     Shape({B, S, S}));
    Tensor<data::label_t> ids(labels.shape());
    for (index_t i = 0; i < labels.numel(); ++i) {
      const auto v = static_cast<std::int64_t>(labels[i]);
      MODELMIX_REQUIRE(v >= 0 && v <= 255, "predict_volume: image '", image.name, "': the predictor returned label ", v,
                       ", outside 0..255");
      ids[i] = static_cast<data::label_t>(labels[i]);
    }
    const Tensor<data::label_t> pasted = data::paste_back(ids, H, W, options.fill);
    std::copy_n(pasted.data(), B * H * W, out.voxels.data() + z0 * H * W);
  }
  if (options.largest_component) keep_largest_component(out, options.fill);
  return out;
}

}  // namespace modelmix::method
