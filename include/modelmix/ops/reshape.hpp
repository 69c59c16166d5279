#pragma once
// Same elements, new shape (row-major order is kept; numel must match).
//
//   y = x viewed as `shape`        ∂x += g viewed as x.shape()
//
// The tape owns every value, so this copies once (on the input's device); there are no
// aliasing views.
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> reshape(const Var<T>& x, Shape shape) {
  Tape<T>& tape = x.tape();
  MODELMIX_REQUIRE(shape.numel() == x.shape().numel(), "reshape: input ", x.shape(), " has ", x.shape().numel(),
                   " elements, target shape ", shape, " needs ", shape.numel());
  return tape.record("reshape", x.value().reshaped(std::move(shape)), {x}, [&tape, x](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x)) detail::accumulate_scaled("reshape", T(1), g, *gx);
  });
}

}  // namespace modelmix::ops
