#pragma once
// Partial cross-entropy: cross-entropy over the scribbled pixels only.
//
//   p [N, C, H, W]  softmax probabilities
//   y [N, C, H, W]  one-hot targets (soft after mixup); unlabeled pixels are all-zero vectors
//
//   pce(p, y) = −Σ y·log(p + ε) / Σ y          (all sums over n, c, h, w)
//
// Since every labeled pixel's target sums to 1 over c, Σ y counts scribbled pixels and the
// loss is the mean cross-entropy over them. After mixup Σ y still counts a pixel labeled in
// both partners once and one labeled in a single partner by its weight β or 1 − β.
//
//   ∂/∂p = −y / ((p + ε)·Σy)          ∂/∂y = (−log(p + ε) − pce) / Σy
//
// No scribbled pixel at all (Σ y = 0, e.g. a batch of unlabeled slices): the loss is 0 with a
// zero gradient, so unlabeled batches contribute nothing instead of NaN. The original code
// divides by Σy + ε instead, which gives the same 0 for such batches.
//
// ε: the original uses 1e-12 for the supervised term and 1e-5 for the mixup term.
//
// Loops in ops/cpu/losses.hpp. On a CUDA device (ops/cuda/losses.hpp) the sums, the loss and
// Σy stay on the device: the forward kernel writes the loss value and a two-double buffer
// {loss, Σy} that the backward closure owns and its kernel reads.
#include <cmath>
#include <memory>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/losses/one_hot.hpp"
#include "modelmix/ops/cpu/losses.hpp"
#include "modelmix/ops/cuda/losses.hpp"
#include "modelmix/ops/dispatch.hpp"

namespace modelmix::losses {

template <class T>
[[nodiscard]] Var<T> pce(const Var<T>& p, const Var<T>& y, double eps = 1e-10) {
  Tape<T>& tape = autograd::common_tape("pce", {p, y});
  const Tensor<T>& pv = p.value();
  const Tensor<T>& yv = y.value();
  MODELMIX_REQUIRE(pv.rank() == 4, "pce: probabilities must be [N, C, H, W]; got shape ", pv.shape());
  MODELMIX_REQUIRE(pv.shape() == yv.shape(), "pce: targets of shape ", yv.shape(), " do not match probabilities ",
                   pv.shape());
  MODELMIX_REQUIRE(eps >= 0, "pce: eps must be non-negative; got ", eps);

  const index_t count = pv.numel();
  const device where = ops::device_of("pce", {pv, yv});
  Tensor<T> value = Tensor<T>::empty(Shape{1}, where);
  double loss = 0, labeled = 0;             // on the CPU
  std::shared_ptr<double> device_stats;     // on a device: {loss, Σy} (shared: the closure is copyable)
  ops::run_on(
      "pce", where,
      [&] {
        double weighted = 0;
        ops::cpu::pce_sums(pv.data(), yv.data(), count, eps, weighted, labeled);
        loss = labeled > 0 ? weighted / labeled : 0.0;
        value.data()[0] = T(loss);
      },
      MODELMIX_CUDA_FLOAT(T, "pce",
                          device_stats = std::shared_ptr<double>(
                              static_cast<double*>(modelmix::detail::device_allocate(
                                  sizeof(double) * ops::cuda::pce_stats_size)),
                              modelmix::detail::device_deleter{});
                          ops::cuda::pce(pv.data(), yv.data(), count, eps, device_stats.get(), value.data())));

  return tape.record("pce", std::move(value), {p, y},
                     [&tape, p, y, eps, loss, labeled, device_stats = std::move(device_stats)](const Tensor<T>& g) {
                       if (g.where() == device::cpu && !(labeled > 0)) return;  // on a device the kernel checks
                       Tensor<T>* gp = tape.grad_slot(p);
                       Tensor<T>* gy = tape.grad_slot(y);
                       if (!gp && !gy) return;
                       ops::run_on(
                           "pce", g.where(),
                           [&] {
                             ops::cpu::pce_backward(g.data(), p.value().data(), y.value().data(),
                                                    gp ? gp->data() : nullptr, gy ? gy->data() : nullptr,
                                                    p.value().numel(), eps, loss, labeled);
                           },
                           MODELMIX_CUDA_FLOAT(T, "pce",
                                               ops::cuda::pce_backward(g.data(), p.value().data(), y.value().data(),
                                                                       gp ? gp->data() : nullptr,
                                                                       gy ? gy->data() : nullptr, p.value().numel(),
                                                                       eps, device_stats.get())));
                     });
}

}  // namespace modelmix::losses
