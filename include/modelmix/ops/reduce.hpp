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
template <class T>
double total(const char* op, const Tensor<T>& x) {
  return run_on(op, x.where(), [&] { return cpu::total(x.data(), x.numel()); });
}

// ∂x_i += g·factor for every i (the broadcast backward of both reductions).
template <class T>
Var<T> record_reduction(const char* op, const Var<T>& x, double value, double factor) {
  Tape<T>& tape = x.tape();
  return tape.record(op, Tensor<T>(Shape{1}, T(value)), {x}, [&tape, x, factor, op](const Tensor<T>& g) {
    Tensor<T>* gx = tape.grad_slot(x);
    if (!gx) return;
    run_on(op, gx->where(), [&] { cpu::add_constant(T(double(g[0]) * factor), gx->data(), gx->numel()); });
  });
}
}  // namespace detail

template <class T>
Var<T> sum(const Var<T>& x) {
  return detail::record_reduction("sum", x, detail::total("sum", x.value()), 1.0);
}

template <class T>
Var<T> mean(const Var<T>& x) {
  const index_t n = x.value().numel();
  MODELMIX_REQUIRE(n > 0, "mean: the input of shape ", x.shape(), " has no elements");
  return detail::record_reduction("mean", x, detail::total("mean", x.value()) / double(n), 1.0 / double(n));
}

}  // namespace modelmix::ops
