#pragma once
// Reverse one axis (e.g. axis 3 of NCHW: left-right, axis 2: up-down). Any rank.
//
//   y[..., l, ...] = x[..., L−1−l, ...]      ∂x += flip(g) along the same axis
//
// axis may be negative (counted from the end, −1 = last). Loop in ops/cpu/flip.hpp; on a CUDA
// device one thread per element (ops/cuda/geometry.hpp).
#include "modelmix/ops/cpu/flip.hpp"
#include "modelmix/ops/cuda/geometry.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> flip(const Var<T>& x, int axis) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  MODELMIX_REQUIRE(axis >= -s.rank() && axis < s.rank(), "flip: axis ", axis, " is out of range for shape ", s);
  if (axis < 0) axis += s.rank();
  const index_t L = s[axis], inner = s.stride(axis), outer = L * inner == 0 ? 0 : s.numel() / (L * inner);
  const device where = device_of("flip", {x.value()});
  Tensor<T> y = Tensor<T>::empty(s, where);
  run_on("flip", where, [&] { cpu::flip_into(x.value().data(), y.data(), outer, L, inner, false); },
         MODELMIX_CUDA_FLOAT(T, "flip", cuda::flip_into(x.value().data(), y.data(), outer, L, inner, false)));
  return tape.record("flip", std::move(y), {x}, [&tape, x, outer, L, inner](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x))
      run_on("flip", g.where(), [&] { cpu::flip_into(g.data(), gx->data(), outer, L, inner, true); },
             MODELMIX_CUDA_FLOAT(T, "flip", cuda::flip_into(g.data(), gx->data(), outer, L, inner, true)));
  });
}

}  // namespace modelmix::ops
