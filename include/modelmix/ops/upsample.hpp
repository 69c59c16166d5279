#pragma once
// 2× spatial upsampling, NCHW: x [N, C, H, W] → y [N, C, 2H, 2W].
//
// nearest:  y[2i+a, 2j+b] = x[i, j]                       ∂x[i, j] += Σ_{a,b} g[2i+a, 2j+b]
// bilinear: PyTorch's align_corners=False, i.e. output o samples the input at
//           s = (o + 0.5)/2 − 0.5, clamped at 0, between ⌊s⌋ and min(⌊s⌋+1, L−1). For a factor
//           of exactly 2 the taps per axis are fixed:
//             y[2i]   = 0.25·x[max(i−1, 0)] + 0.75·x[i]
//             y[2i+1] = 0.75·x[i]           + 0.25·x[min(i+1, L−1)]
//           applied along H then along W (separable). Backward is the transpose (scatter-add
//           with the same weights). ops/reference/upsample.hpp evaluates the general formula.
//
// Loops in ops/cpu/upsample.hpp, kernels in ops/cuda/upsample.cuh (backward as gathers: each
// input sums the outputs that read it, no atomics).
#include "modelmix/ops/cpu/upsample.hpp"
#include "modelmix/ops/cuda/upsample.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> upsample_nearest2x(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  detail::require_nchw("upsample_nearest2x", s);
  const index_t H = s[2], W = s[3], planes = s[0] * s[1];
  const device where = device_of("upsample_nearest2x", {x.value()});
  Tensor<T> y = Tensor<T>::empty(Shape{s[0], s[1], 2 * H, 2 * W}, where);
  run_on("upsample_nearest2x", where, [&] { cpu::upsample_nearest2x(x.value().data(), y.data(), planes, H, W); },
         MODELMIX_CUDA_FLOAT(T, "upsample_nearest2x",
                             cuda::upsample_nearest2x(x.value().data(), y.data(), planes, H, W)));
  return tape.record("upsample_nearest2x", std::move(y), {x}, [&tape, x, planes, H, W](const Tensor<T>& g) {
    const gradient_sink<T> gx = tape.grad_target(x);
    if (!gx) return;
    run_on("upsample_nearest2x", g.where(),
           [&] { cpu::upsample_nearest2x_backward(g.data(), gx.slot->data(), planes, H, W, gx.assign); },
           MODELMIX_CUDA_FLOAT(T, "upsample_nearest2x",
                               cuda::upsample_nearest2x_backward(g.data(), gx.slot->data(), planes, H, W, gx.assign)));
  });
}

template <class T>
Var<T> upsample_bilinear2x(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  detail::require_nchw("upsample_bilinear2x", s);
  const index_t H = s[2], W = s[3], planes = s[0] * s[1];
  const device where = device_of("upsample_bilinear2x", {x.value()});
  Tensor<T> y = Tensor<T>::empty(Shape{s[0], s[1], 2 * H, 2 * W}, where);
  run_on("upsample_bilinear2x", where, [&] { cpu::upsample_bilinear2x(x.value().data(), y.data(), planes, H, W); },
         MODELMIX_CUDA_FLOAT(T, "upsample_bilinear2x",
                             cuda::upsample_bilinear2x(x.value().data(), y.data(), planes, H, W)));
  return tape.record("upsample_bilinear2x", std::move(y), {x}, [&tape, x, planes, H, W](const Tensor<T>& g) {
    const gradient_sink<T> gx = tape.grad_target(x);
    if (!gx) return;
    run_on("upsample_bilinear2x", g.where(),
           [&] { cpu::upsample_bilinear2x_backward(g.data(), gx.slot->data(), planes, H, W, gx.assign); },
           MODELMIX_CUDA_FLOAT(T, "upsample_bilinear2x",
                               cuda::upsample_bilinear2x_backward(g.data(), gx.slot->data(), planes, H, W)));
  });
}

}  // namespace modelmix::ops
