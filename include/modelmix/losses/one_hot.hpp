#pragma once
// Label map → one-hot target tensor, the target convention every loss in losses/ reads.
//
//   labels [N, H, W] (uint8 class ids)  →  y [N, C, H, W],  y[n, c, h, w] = 1 if labels[n, h, w] == c
//
// Pixels carrying the ignore value (scribbles: 4 = unlabeled) become the all-zero vector, so
// they drop out of Σ y and every loss masks them without a separate mask tensor. Mixup later
// turns these into soft targets; the all-zero convention survives mixing (0·β + 0·(1−β) = 0).
#include <cstdint>

#include "modelmix/core/error.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::losses {

// ignore_value < 0 means "no ignore value": every label must then be a class.
template <class T>
[[nodiscard]] Tensor<T> one_hot(const Tensor<std::uint8_t>& labels, int classes, int ignore_value) {
  MODELMIX_REQUIRE(labels.rank() == 3, "one_hot: labels must be [N, H, W]; got shape ", labels.shape());
  MODELMIX_REQUIRE(classes > 0, "one_hot: classes must be positive; got ", classes);
  const index_t n = labels.dim(0), h = labels.dim(1), w = labels.dim(2), plane = h * w;
  Tensor<T> y(Shape{n, classes, h, w});
  for (index_t b = 0; b < n; ++b) {
    for (index_t i = 0; i < plane; ++i) {
      const int label = labels[b * plane + i];
      if (label == ignore_value) continue;
      MODELMIX_REQUIRE(label < classes, "one_hot: label ", label, " at (n=", b, ", h=", i / w, ", w=", i % w,
                       ") is neither a class in [0, ", classes, ") nor the ignore value ", ignore_value);
      y[(b * classes + label) * plane + i] = T(1);
    }
  }
  return y;
}

}  // namespace modelmix::losses
