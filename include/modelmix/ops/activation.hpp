#pragma once
// Activations, elementwise on any shape.
//
//   relu: y = max(x, 0)        ∂x += g · [x > 0]     (the subgradient at 0 is 0, as in PyTorch)
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> relu(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  Tensor<T> y(x.shape());
  const T* px = x.value().data();
  T* py = y.data();
  detail::parallel_chunks(y.numel(), [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) py[i] = px[i] > T(0) ? px[i] : T(0);
  });
  return tape.record("relu", std::move(y), {x}, [&tape, x](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x)) {
      const T *pg = g.data(), *pv = x.value().data();
      T* pd = gx->data();
      detail::parallel_chunks(g.numel(), [=](index_t i0, index_t i1) {
        for (index_t i = i0; i < i1; ++i) {
          const T gi = pg[i];  // read unconditionally so the select compiles to a blend, not a branch
          pd[i] += pv[i] > T(0) ? gi : T(0);
        }
      });
    }
  });
}

}  // namespace modelmix::ops
