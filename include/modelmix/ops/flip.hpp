#pragma once
// Reverse one axis (e.g. axis 3 of NCHW: left-right, axis 2: up-down). Any rank.
//
//   y[..., l, ...] = x[..., L−1−l, ...]      ∂x += flip(g) along the same axis
//
// axis may be negative (counted from the end, −1 = last).
#include <algorithm>

#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {
namespace detail {
// dst[o, l, i] (+)= src[o, L−1−l, i] for an [outer, L, inner] view.
template <class T>
void flip_into(const T* src, T* dst, index_t outer, index_t L, index_t inner, bool accumulate) {
#pragma omp parallel for schedule(static) if (outer * L * inner >= parallel_min_work)
  for (index_t o = 0; o < outer; ++o) {
    if (inner == 1) {  // the last axis: reverse each contiguous row
      const T* in = src + o * L;
      T* out = dst + o * L;
      for (index_t l = 0; l < L; ++l) out[l] = (accumulate ? out[l] : T(0)) + in[L - 1 - l];
      continue;
    }
    for (index_t l = 0; l < L; ++l) {
      const T* in = src + (o * L + (L - 1 - l)) * inner;
      T* out = dst + (o * L + l) * inner;
      if (accumulate)
        for (index_t i = 0; i < inner; ++i) out[i] += in[i];
      else
        std::copy(in, in + inner, out);
    }
  }
}
}  // namespace detail

template <class T>
Var<T> flip(const Var<T>& x, int axis) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  MODELMIX_REQUIRE(axis >= -s.rank() && axis < s.rank(), "flip: axis ", axis, " is out of range for shape ", s);
  if (axis < 0) axis += s.rank();
  const index_t L = s[axis], inner = s.stride(axis), outer = L * inner == 0 ? 0 : s.numel() / (L * inner);
  Tensor<T> y(s);
  detail::flip_into(x.value().data(), y.data(), outer, L, inner, false);
  return tape.record("flip", std::move(y), {x}, [&tape, x, outer, L, inner](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x)) detail::flip_into(g.data(), gx->data(), outer, L, inner, true);
  });
}

}  // namespace modelmix::ops
