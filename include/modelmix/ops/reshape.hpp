#pragma once
// Same elements, new shape (row-major order is kept; numel must match).
//
//   y = x viewed as `shape`        ∂x += g viewed as x.shape()
//
// The tape owns every value, so this copies once; there are no aliasing views.
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> reshape(const Var<T>& x, Shape shape) {
  Tape<T>& tape = x.tape();
  MODELMIX_REQUIRE(shape.numel() == x.shape().numel(), "reshape: input ", x.shape(), " has ", x.shape().numel(),
                   " elements, target shape ", shape, " needs ", shape.numel());
  return tape.record("reshape", x.value().reshaped(std::move(shape)), {x}, [&tape, x](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x)) {
      const T* pg = g.data();
      T* pd = gx->data();
      detail::parallel_chunks(g.numel(), [=](index_t i0, index_t i1) {
        for (index_t i = i0; i < i1; ++i) pd[i] += pg[i];
      });
    }
  });
}

}  // namespace modelmix::ops
