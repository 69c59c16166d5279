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
double total(const Tensor<T>& x) {
  const T* p = x.data();
  const index_t n = x.numel();
  double s = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n >= parallel_min_work)
  for (index_t i = 0; i < n; ++i) s += double(p[i]);
  return s;
}

// ∂x_i += g·factor for every i (the broadcast backward of both reductions).
template <class T>
Var<T> record_reduction(const char* op, const Var<T>& x, double value, double factor) {
  Tape<T>& tape = x.tape();
  return tape.record(op, Tensor<T>(Shape{1}, T(value)), {x}, [&tape, x, factor](const Tensor<T>& g) {
    Tensor<T>* gx = tape.grad_slot(x);
    if (!gx) return;
    const T v = T(double(g[0]) * factor);
    T* d = gx->data();
    parallel_chunks(gx->numel(), [=](index_t i0, index_t i1) {
      for (index_t i = i0; i < i1; ++i) d[i] += v;
    });
  });
}
}  // namespace detail

template <class T>
Var<T> sum(const Var<T>& x) {
  return detail::record_reduction("sum", x, detail::total(x.value()), 1.0);
}

template <class T>
Var<T> mean(const Var<T>& x) {
  const index_t n = x.value().numel();
  MODELMIX_REQUIRE(n > 0, "mean: the input of shape ", x.shape(), " has no elements");
  return detail::record_reduction("mean", x, detail::total(x.value()) / double(n), 1.0 / double(n));
}

}  // namespace modelmix::ops
