#pragma once
// 2×2 max pooling, stride 2, NCHW.
//
//   x [N, C, H, W] → y [N, C, ⌊H/2⌋, ⌊W/2⌋]
//   y[n,c,i,j] = max_{a,b ∈ {0,1}} x[n,c,2i+a,2j+b]
//   ∂x[n,c,2i+a*,2j+b*] += g[n,c,i,j]   at the argmax (a*, b*)
//
// Odd H or W: the last row/column is dropped (floor), as PyTorch does. Ties go to the first
// maximum in row-major window order, so exactly one input receives each output's gradient.
// Forward keeps the argmax as one byte per output (its window position 0..3), where the input
// lives: host bytes on the CPU, device bytes on a device (kernels in ops/cuda/pooling.cuh), owned
// by the backward closure.
#include <cstdint>
#include <memory>
#include <vector>

#include "modelmix/ops/cpu/pooling.hpp"
#include "modelmix/ops/cuda/pooling.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> max_pool2d(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  detail::require_nchw("max_pool2d", s);
  const index_t H = s[2], W = s[3], Ho = H / 2, Wo = W / 2, planes = s[0] * s[1];
  MODELMIX_REQUIRE(Ho > 0 && Wo > 0, "max_pool2d: input ", s, " is smaller than the 2×2 window");

  const device where = device_of("max_pool2d", {x.value()});
  Tensor<T> y = Tensor<T>::empty(Shape{s[0], s[1], Ho, Wo}, where);
  const auto outputs = static_cast<std::size_t>(y.numel());
  std::vector<std::uint8_t> argmax;             // on the CPU
  std::shared_ptr<std::uint8_t> device_argmax;  // on a device (shared: the closure is copyable)
  run_on(
      "max_pool2d", where,
      [&] {
        argmax.resize(outputs);
        cpu::max_pool2d(x.value().data(), y.data(), argmax.data(), planes, H, W, Ho, Wo);
      },
      MODELMIX_CUDA_FLOAT(T, "max_pool2d",
                          device_argmax = std::shared_ptr<std::uint8_t>(
                              static_cast<std::uint8_t*>(modelmix::detail::device_allocate(outputs)),
                              modelmix::detail::device_deleter{});
                          cuda::max_pool2d(x.value().data(), y.data(), device_argmax.get(), planes, H, W, Ho, Wo)));
  return tape.record(
      "max_pool2d", std::move(y), {x},
      [&tape, x, argmax = std::move(argmax), device_argmax = std::move(device_argmax), planes, H, W, Ho,
       Wo](const Tensor<T>& g) {
        const gradient_sink<T> gx = tape.grad_target(x);
        if (!gx) return;
        run_on(
            "max_pool2d", g.where(),
            [&] {
              cpu::max_pool2d_backward(g.data(), argmax.data(), gx.slot->data(), planes, H, W, Ho, Wo, gx.assign);
            },
            MODELMIX_CUDA_FLOAT(T, "max_pool2d",
                                cuda::max_pool2d_backward(g.data(), device_argmax.get(), gx.slot->data(), planes, H,
                                                          W, Ho, Wo, gx.assign)));
      });
}

}  // namespace modelmix::ops
