#pragma once
// Full reductions to a one-element tensor (shape [1]), the usual last step before backward().
//
//   sum:  y = Σ_i x_i            ∂x_i += g
//   mean: y = (1/n) Σ_i x_i      ∂x_i += g / n      (n = x.numel() > 0)
//
// The sum is accumulated in double whatever T is: a float loss over a batch of 256×256 images
// would otherwise lose digits to round-off.
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {
namespace detail {
// y = [Σ x_i / divisor], computed where x lives (on a device the value stays there: no round trip).
template <class T>
Tensor<T> reduce_total(const char* op, const Tensor<T>& x, double divisor) {
  Tensor<T> y = Tensor<T>::empty(Shape{1}, x.where());
  run_on(op, x.where(), [&] { y.data()[0] = T(cpu::total(x.data(), x.numel()) / divisor); },
         MODELMIX_CUDA_FLOAT(T, op, cuda::sum(x.data(), x.numel(), divisor, y.data())));
  return y;
}

// ∂x_i += g·factor for every i (the broadcast backward of both reductions).
template <class T>
Var<T> record_reduction(const char* op, const Var<T>& x, double divisor, double factor) {
  Tape<T>& tape = x.tape();
  return tape.record(op, reduce_total(op, x.value(), divisor), {x}, [&tape, x, factor, op](const Tensor<T>& g) {
    Tensor<T>* gx = tape.grad_slot(x);
    if (!gx) return;
    run_on(op, gx->where(), [&] { cpu::add_constant(T(double(g[0]) * factor), gx->data(), gx->numel()); },
           MODELMIX_CUDA_FLOAT(T, op, cuda::add_broadcast(g.data(), factor, gx->data(), gx->numel())));
  });
}
}  // namespace detail

template <class T>
Var<T> sum(const Var<T>& x) {
  return detail::record_reduction("sum", x, 1.0, 1.0);
}

template <class T>
Var<T> mean(const Var<T>& x) {
  const index_t n = x.value().numel();
  MODELMIX_REQUIRE(n > 0, "mean: the input of shape ", x.shape(), " has no elements");
  return detail::record_reduction("mean", x, double(n), 1.0 / double(n));
}

}  // namespace modelmix::ops
