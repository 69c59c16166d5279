#pragma once
// Cosine consistency terms of ModelMix (docs/METHOD.md steps 3 and 4).
//
//   a, b [N, C, H, W] (any rank ≥ 2: everything after the class axis is one vector)
//   cos[n,c] = ⟨a[n,c], b[n,c]⟩ / max(‖a[n,c]‖·‖b[n,c]‖, eps)        (torch cosine_similarity, eps 1e-8)
//
//   cosine_consistency(a, b) = 1 − mean_{n,c} cos[n,c]    mix consistency L_mc (step 3)
//   cosine_invariance(a, b)  =   − mean_{n,c} cos[n,c]    unsupervised vicinal risk L_inv (step 4)
//
// Gradient of one cosine (G = N·C terms in the mean, applied with −1/G):
//   ‖a‖‖b‖ > eps:  ∂cos/∂a = b / (‖a‖‖b‖) − cos · a / ‖a‖²     (symmetrically for b)
//   otherwise:     ∂cos/∂a = b / eps                             (the clamp is a constant)
//
// Loops in ops/cpu/losses.hpp. On a CUDA device (ops/cuda/losses.hpp) the per-group ‖a‖², ‖b‖²
// and cosines stay in a device buffer owned by the backward closure, and a kernel forms the loss.
#include <memory>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/ops/cpu/losses.hpp"
#include "modelmix/ops/cuda/losses.hpp"
#include "modelmix/ops/dispatch.hpp"

namespace modelmix::losses {

namespace detail {

// offset − mean_{n,c} cos(a[n,c], b[n,c]), one tape op.
template <class T>
Var<T> offset_mean_cosine(const char* op, const Var<T>& a, const Var<T>& b, double offset, double eps) {
  Tape<T>& tape = autograd::common_tape(op, {a, b});
  const Tensor<T>& av = a.value();
  const Tensor<T>& bv = b.value();
  MODELMIX_REQUIRE(av.rank() >= 2, op, ": inputs must be [N, C, ...]; got shape ", av.shape());
  MODELMIX_REQUIRE(av.shape() == bv.shape(), op, ": shapes ", av.shape(), " and ", bv.shape(), " differ");
  MODELMIX_REQUIRE(eps > 0, op, ": eps must be positive; got ", eps);
  const index_t groups = av.dim(0) * av.dim(1);
  MODELMIX_REQUIRE(groups > 0, op, ": empty batch or class axis in shape ", av.shape());
  const index_t len = av.numel() / groups;

  // Per group: ‖a‖², ‖b‖², cos; backward needs all three.
  const device where = ops::device_of(op, {av, bv});
  Tensor<T> value = Tensor<T>::empty(Shape{1}, where);
  std::vector<double> aa, bb, cosine;    // on the CPU
  std::shared_ptr<double> device_stats;  // on a device: [‖a_g‖²…, ‖b_g‖²…, cos_g…]
  ops::run_on(
      op, where,
      [&] {
        aa.resize(static_cast<std::size_t>(groups)), bb.resize(aa.size()), cosine.resize(aa.size());
        const double total =
            ops::cpu::group_cosines(av.data(), bv.data(), groups, len, eps, aa.data(), bb.data(), cosine.data());
        value.data()[0] = T(offset - total / double(groups));
      },
      MODELMIX_CUDA_FLOAT(T, op,
                          device_stats = std::shared_ptr<double>(
                              static_cast<double*>(modelmix::detail::device_allocate(
                                  sizeof(double) * static_cast<std::size_t>(ops::cuda::group_cosine_fields * groups))),
                              modelmix::detail::device_deleter{});
                          ops::cuda::group_cosines(av.data(), bv.data(), groups, len, eps, offset,
                                                   device_stats.get(), value.data())));

  return tape.record(op, std::move(value), {a, b},
                     [&tape, a, b, op, eps, groups, len, aa = std::move(aa), bb = std::move(bb),
                      cosine = std::move(cosine), device_stats = std::move(device_stats)](const Tensor<T>& g) {
                       Tensor<T>* ga = tape.grad_slot(a);
                       Tensor<T>* gb = tape.grad_slot(b);
                       ops::run_on(
                           op, g.where(),
                           [&] {
                             ops::cpu::group_cosines_backward(g.data(), a.value().data(), b.value().data(),
                                                              ga ? ga->data() : nullptr, gb ? gb->data() : nullptr,
                                                              groups, len, eps, aa.data(), bb.data(), cosine.data());
                           },
                           MODELMIX_CUDA_FLOAT(T, op,
                                               ops::cuda::group_cosines_backward(
                                                   g.data(), a.value().data(), b.value().data(),
                                                   ga ? ga->data() : nullptr, gb ? gb->data() : nullptr, groups, len,
                                                   eps, device_stats.get())));
                     });
}

}  // namespace detail

template <class T>
[[nodiscard]] Var<T> cosine_consistency(const Var<T>& a, const Var<T>& b, double eps = 1e-8) {
  return detail::offset_mean_cosine("cosine_consistency", a, b, 1.0, eps);
}

template <class T>
[[nodiscard]] Var<T> cosine_invariance(const Var<T>& a, const Var<T>& b, double eps = 1e-8) {
  return detail::offset_mean_cosine("cosine_invariance", a, b, 0.0, eps);
}

}  // namespace modelmix::losses
