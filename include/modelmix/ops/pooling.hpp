#pragma once
// 2×2 max pooling, stride 2, NCHW.
//
//   x [N, C, H, W] → y [N, C, ⌊H/2⌋, ⌊W/2⌋]
//   y[n,c,i,j] = max_{a,b ∈ {0,1}} x[n,c,2i+a,2j+b]
//   ∂x[n,c,2i+a*,2j+b*] += g[n,c,i,j]   at the argmax (a*, b*)
//
// Odd H or W: the last row/column is dropped (floor), as PyTorch does. Ties go to the first
// maximum in row-major window order, so exactly one input receives each output's gradient.
// Forward keeps the argmax as one byte per output (its window position 0..3).
#include <cstdint>
#include <vector>

#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> max_pool2d(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  detail::require_nchw("max_pool2d", s);
  const index_t H = s[2], W = s[3], Ho = H / 2, Wo = W / 2, planes = s[0] * s[1];
  MODELMIX_REQUIRE(Ho > 0 && Wo > 0, "max_pool2d: input ", s, " is smaller than the 2×2 window");

  Tensor<T> y(Shape{s[0], s[1], Ho, Wo});
  std::vector<std::uint8_t> argmax(static_cast<std::size_t>(y.numel()));
  const T* px = x.value().data();
  T* py = y.data();
  std::uint8_t* pa = argmax.data();
#pragma omp parallel for schedule(static) if (x.value().numel() >= detail::parallel_min_work)
  for (index_t p = 0; p < planes; ++p) {
    const T* in = px + p * H * W;
    for (index_t i = 0; i < Ho; ++i) {
      const T* r0 = in + 2 * i * W;
      const T* r1 = r0 + W;
      T* out = py + (p * Ho + i) * Wo;
      std::uint8_t* arg = pa + (p * Ho + i) * Wo;
      for (index_t j = 0; j < Wo; ++j) {
        T best = r0[2 * j];
        std::uint8_t k = 0;
        if (r0[2 * j + 1] > best) { best = r0[2 * j + 1]; k = 1; }
        if (r1[2 * j] > best) { best = r1[2 * j]; k = 2; }
        if (r1[2 * j + 1] > best) { best = r1[2 * j + 1]; k = 3; }
        out[j] = best;
        arg[j] = k;
      }
    }
  }
  return tape.record("max_pool2d", std::move(y), {x},
                     [&tape, x, argmax = std::move(argmax), planes, H, W, Ho, Wo](const Tensor<T>& g) {
                       Tensor<T>* gx = tape.grad_slot(x);
                       if (!gx) return;
                       const T* pg = g.data();
                       T* pd = gx->data();
                       const std::uint8_t* pa = argmax.data();
#pragma omp parallel for schedule(static) if (gx->numel() >= detail::parallel_min_work)
                       for (index_t p = 0; p < planes; ++p)
                         for (index_t i = 0; i < Ho; ++i)
                           for (index_t j = 0; j < Wo; ++j) {
                             const index_t o = (p * Ho + i) * Wo + j;
                             const index_t a = pa[o] >> 1, b = pa[o] & 1;
                             pd[p * H * W + (2 * i + a) * W + 2 * j + b] += pg[o];
                           }
                     });
}

}  // namespace modelmix::ops
