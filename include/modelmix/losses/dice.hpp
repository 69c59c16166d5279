#pragma once
// Soft Dice loss on softmax probabilities with scribble (partial) targets.
//
//   p [N, C, H, W]  probabilities;  y [N, C, H, W]  one-hot/soft targets, unlabeled = all-zero
//   s = options.smooth
//
// dice_variant::scribbled (default; our decision, see docs/METHOD.md):
//   m[n,h,w] = 1 if Σ_c y[n,c,h,w] > 0 (the pixel carries a scribble), else 0
//   per class c, pooled over the whole batch:
//     I_c = Σ m·p_c·y_c,  P_c = Σ m·p_c,  Y_c = Σ m·y_c
//   dice = 1 − (1/K) Σ_{c: Y_c > 0} (2·I_c + s) / (P_c + Y_c + s),   K = #{c : Y_c > 0}
//   Classes absent from the batch's scribbles are left out of the mean (they have no region to
//   overlap with; their false positives on scribbled pixels still lower the true class's I_c).
//   Pooling over the batch rather than per sample keeps the ratio stable on sparse scribbles.
//   No scribbled pixel (K = 0): loss 0 with zero gradient, the same convention as pce.
//
// dice_variant::global (the original code, SetCriterion.multiDice):
//   dice = 1 − (2·Σ p·y + s) / (Σ p + Σ y + s)       one ratio over n, c, h, w, all pixels
//   Unlabeled pixels still count through Σ p. The original adds its 1e-10 to every element of
//   2·p·y before summing (numerator 2·Σp·y + 1e-10·numel); the difference is at most
//   C·1e-10, far below float resolution. dice_options::original() gives s = 1e-10.
//
// Gradients (per present class c for scribbled, the single ratio for global; A = 2I + s,
// B = P + Y + s, masked by m for scribbled and divided by K there):
//   ∂/∂p = −(2·y·B − A) / B²        ∂/∂y = −(2·p·B − A) / B²
// Gradients into y at classes absent from the scribbles are zero (presence is a step).
//
// Loops in ops/cpu/losses.hpp. On a CUDA device (ops/cuda/losses.hpp) the loss and what the
// backward needs stay on the device: the forward kernels write the loss value and a small
// double buffer (A, B; per class A_c, B_c, Y_c and K for scribbled, with the scribble mask
// as device bytes), owned by the backward closure and read by its kernel.
#include <cstdint>
#include <memory>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/ops/cpu/losses.hpp"
#include "modelmix/ops/cuda/losses.hpp"
#include "modelmix/ops/dispatch.hpp"

namespace modelmix::losses {

enum class dice_variant { scribbled, global };

struct dice_options {
  dice_variant variant = dice_variant::scribbled;
  double smooth = 1e-5;

  // The original ModelMix code's Dice term.
  [[nodiscard]] static dice_options original() { return {dice_variant::global, 1e-10}; }
};

namespace detail {

template <class T>
Var<T> dice_global(Tape<T>& tape, const Var<T>& p, const Var<T>& y, double smooth) {
  const Tensor<T>& pv = p.value();
  const Tensor<T>& yv = y.value();
  const index_t count = pv.numel();
  const device where = ops::device_of("dice", {pv, yv});
  Tensor<T> value = Tensor<T>::empty(Shape{1}, where);
  double a = 0, b = 0;                   // on the CPU
  std::shared_ptr<double> device_stats;  // on a device: {A, B}
  ops::run_on(
      "dice", where,
      [&] {
        double inter = 0, psum = 0, ysum = 0;
        ops::cpu::dice_global_sums(pv.data(), yv.data(), count, inter, psum, ysum);
        a = 2 * inter + smooth, b = psum + ysum + smooth;
        value.data()[0] = T(b > 0 ? 1 - a / b : 0.0);
      },
      MODELMIX_CUDA_FLOAT(T, "dice",
                          device_stats = std::shared_ptr<double>(
                              static_cast<double*>(modelmix::detail::device_allocate(
                                  sizeof(double) * ops::cuda::dice_global_stats_size)),
                              modelmix::detail::device_deleter{});
                          ops::cuda::dice_global(pv.data(), yv.data(), count, smooth, device_stats.get(),
                                                 value.data())));
  return tape.record("dice.global", std::move(value), {p, y},
                     [&tape, p, y, a, b, device_stats = std::move(device_stats)](const Tensor<T>& g) {
                       if (g.where() == device::cpu && !(b > 0)) return;  // on a device the kernel checks
                       Tensor<T>* gp = tape.grad_slot(p);
                       Tensor<T>* gy = tape.grad_slot(y);
                       if (!gp && !gy) return;
                       ops::run_on(
                           "dice", g.where(),
                           [&] {
                             ops::cpu::dice_global_backward(g.data(), p.value().data(), y.value().data(),
                                                            gp ? gp->data() : nullptr, gy ? gy->data() : nullptr,
                                                            p.value().numel(), a, b);
                           },
                           MODELMIX_CUDA_FLOAT(T, "dice",
                                               ops::cuda::dice_global_backward(
                                                   g.data(), p.value().data(), y.value().data(),
                                                   gp ? gp->data() : nullptr, gy ? gy->data() : nullptr,
                                                   p.value().numel(), device_stats.get())));
                     });
}

template <class T>
Var<T> dice_scribbled(Tape<T>& tape, const Var<T>& p, const Var<T>& y, double smooth) {
  const Tensor<T>& pv = p.value();
  const Tensor<T>& yv = y.value();
  const index_t n = pv.dim(0), classes = pv.dim(1), plane = pv.dim(2) * pv.dim(3);
  const device where = ops::device_of("dice", {pv, yv});

  if (where != device::cpu) {
    // On a device: the mask (bytes) and {A_c, B_c, Y_c, K} live in device buffers owned by the
    // backward closure; the kernels form the loss value there.
    Tensor<T> value = Tensor<T>::empty(Shape{1}, where);
    std::shared_ptr<std::uint8_t> device_mask;
    std::shared_ptr<double> device_stats;
    ops::run_on("dice", where, [] {},
                MODELMIX_CUDA_FLOAT(T, "dice",
                                    device_mask = std::shared_ptr<std::uint8_t>(
                                        static_cast<std::uint8_t*>(modelmix::detail::device_allocate(
                                            static_cast<std::size_t>(n * plane))),
                                        modelmix::detail::device_deleter{});
                                    device_stats = std::shared_ptr<double>(
                                        static_cast<double*>(modelmix::detail::device_allocate(
                                            sizeof(double) *
                                            static_cast<std::size_t>(ops::cuda::dice_scribbled_stats_size(classes)))),
                                        modelmix::detail::device_deleter{});
                                    ops::cuda::dice_scribbled(pv.data(), yv.data(), n, classes, plane, smooth,
                                                              device_mask.get(), device_stats.get(), value.data())));
    return tape.record("dice.scribbled", std::move(value), {p, y},
                       [&tape, p, y, device_mask = std::move(device_mask),
                        device_stats = std::move(device_stats)](const Tensor<T>& g) {
                         Tensor<T>* gp = tape.grad_slot(p);
                         Tensor<T>* gy = tape.grad_slot(y);
                         if (!gp && !gy) return;
                         ops::run_on("dice", g.where(), [] {},
                                     MODELMIX_CUDA_FLOAT(T, "dice",
                                                         ops::cuda::dice_scribbled_backward(
                                                             g.data(), p.value().data(), y.value().data(),
                                                             device_mask.get(), gp ? gp->data() : nullptr,
                                                             gy ? gy->data() : nullptr, p.value().dim(0),
                                                             p.value().dim(1), p.value().dim(2) * p.value().dim(3),
                                                             device_stats.get())));
                       });
  }

  // Which pixels carry a scribble, computed once and kept for backward; then per class the
  // sums I_c, P_c, Y_c over them.
  std::vector<unsigned char> mask(static_cast<std::size_t>(n * plane));
  std::vector<double> inter(static_cast<std::size_t>(classes)), psum(inter.size()), ysum(inter.size());
  ops::run_on("dice", where, [&] {
    ops::cpu::dice_scribble_mask(yv.data(), mask.data(), n, classes, plane);
    ops::cpu::dice_scribbled_sums(pv.data(), yv.data(), mask.data(), n, classes, plane, inter.data(), psum.data(),
                                  ysum.data());
  });

  // Per class: a = 2I + s, b = P + Y + s; b < 0 marks a class absent from the scribbles.
  std::vector<double> a(static_cast<std::size_t>(classes)), b(static_cast<std::size_t>(classes));
  double ratio_sum = 0;
  index_t present = 0;
  for (std::size_t c = 0; c < a.size(); ++c) {
    a[c] = 2 * inter[c] + smooth;
    b[c] = ysum[c] > 0 ? psum[c] + ysum[c] + smooth : -1.0;
    if (ysum[c] > 0) {
      ratio_sum += a[c] / b[c];
      ++present;
    }
  }
  const double loss = present > 0 ? 1 - ratio_sum / double(present) : 0.0;

  return tape.record(
      "dice.scribbled", Tensor<T>(Shape{1}, T(loss)), {p, y},
      [&tape, p, y, mask = std::move(mask), a = std::move(a), b = std::move(b), present](const Tensor<T>& g) {
        if (present == 0) return;
        const Tensor<T>& pv = p.value();
        const index_t n = pv.dim(0), classes = pv.dim(1), plane = pv.dim(2) * pv.dim(3);
        Tensor<T>* gp = tape.grad_slot(p);
        Tensor<T>* gy = tape.grad_slot(y);
        ops::run_on("dice", g.where(), [&] {
          ops::cpu::dice_scribbled_backward(g.data(), pv.data(), y.value().data(), mask.data(),
                                            gp ? gp->data() : nullptr, gy ? gy->data() : nullptr, n, classes, plane,
                                            a.data(), b.data(), present);
        });
      });
}

}  // namespace detail

template <class T>
[[nodiscard]] Var<T> dice(const Var<T>& p, const Var<T>& y, dice_options options = {}) {
  Tape<T>& tape = autograd::common_tape("dice", {p, y});
  MODELMIX_REQUIRE(p.value().rank() == 4, "dice: probabilities must be [N, C, H, W]; got shape ", p.shape());
  MODELMIX_REQUIRE(p.shape() == y.shape(), "dice: targets of shape ", y.shape(), " do not match probabilities ",
                   p.shape());
  MODELMIX_REQUIRE(options.smooth >= 0, "dice: smooth must be non-negative; got ", options.smooth);
  return options.variant == dice_variant::global ? detail::dice_global(tape, p, y, options.smooth)
                                                 : detail::dice_scribbled(tape, p, y, options.smooth);
}

}  // namespace modelmix::losses
