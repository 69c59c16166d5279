#pragma once
// Label map → one-hot target tensor, the target convention every loss in losses/ reads.
//
//   labels [N, H, W] (uint8 class ids)  →  y [N, C, H, W],  y[n, c, h, w] = 1 if labels[n, h, w] == c
//
// Pixels carrying the ignore value (scribbles: 4 = unlabeled) become the all-zero vector, so
// they drop out of Σ y and every loss masks them without a separate mask tensor. Mixup later
// turns these into soft targets; the all-zero convention survives mixing (0·β + 0·(1−β) = 0).
//
// Loop in ops/cpu/losses.hpp; on a CUDA device the kernels of ops/cuda/losses.hpp.
#include <cstdint>
#include <memory>

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cpu/losses.hpp"
#include "modelmix/ops/cuda/losses.hpp"
#include "modelmix/ops/dispatch.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::losses {

// ignore_value < 0 means "no ignore value": every label must then be a class.
template <class T>
[[nodiscard]] Tensor<T> one_hot(const Tensor<std::uint8_t>& labels, int classes, int ignore_value) {
  MODELMIX_REQUIRE(labels.rank() == 3, "one_hot: labels must be [N, H, W]; got shape ", labels.shape());
  MODELMIX_REQUIRE(classes > 0, "one_hot: classes must be positive; got ", classes);
  const index_t n = labels.dim(0), h = labels.dim(1), w = labels.dim(2), plane = h * w;
  const device where = ops::device_of("one_hot", {labels});
  // The CPU loop writes only the ones (y zero-filled first); the kernel writes every element.
  Tensor<T> y = where == device::cpu ? Tensor<T>::zeros(Shape{n, classes, h, w}, where)
                                     : Tensor<T>::empty(Shape{n, classes, h, w}, where);
  const index_t bad = ops::run_on(
      "one_hot", where, [&] { return ops::cpu::one_hot(labels.data(), y.data(), n, plane, classes, ignore_value); },
      [&]() -> index_t {
        index_t first = -1;
        MODELMIX_CUDA_FLOAT(T, "one_hot", {
          ops::cuda::one_hot(labels.data(), y.data(), n, plane, classes, ignore_value);
          // The one host read of this op: whether a label is invalid decides whether it throws
          // (the CPU op's contract), so the first invalid index (one int) comes back.
          const std::unique_ptr<int, modelmix::detail::device_deleter> bad_at(
              static_cast<int*>(modelmix::detail::device_allocate(sizeof(int))));
          ops::cuda::one_hot_first_invalid(labels.data(), n, plane, classes, ignore_value, bad_at.get());
          int host = -1;
          modelmix::detail::device_copy(&host, bad_at.get(), sizeof(int),
                                        modelmix::detail::copy_direction::device_to_host);
          first = host;
        })();
        return first;
      });
  if (bad >= 0) {  // the first label (in row-major order) that is neither a class nor ignored
    const index_t b = bad / plane, i = bad % plane;
    const int label = labels.to_host()[bad];
    throw error(cat("one_hot: label ", label, " at (n=", b, ", h=", i / w, ", w=", i % w,
                    ") is neither a class in [0, ", classes, ") nor the ignore value ", ignore_value));
  }
  return y;
}

}  // namespace modelmix::losses
