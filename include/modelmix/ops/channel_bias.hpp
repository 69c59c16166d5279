#pragma once
// A per-channel bias broadcast over N, H, W (the op of layers::Bias; no other op broadcasts).
//
//   x [N, C, H, W]   b [C]   y[n,c,h,w] = x[n,c,h,w] + b[c]
//   ∂x += g          ∂b[c] += Σ_{n,h,w} g[n,c,h,w]
//
// Loops in ops/cpu/channel_bias.hpp, kernels in ops/cuda/channel_bias.cuh. Errors name the Bias
// layer, its only user.
#include "modelmix/ops/cpu/channel_bias.hpp"
#include "modelmix/ops/cuda/channel_bias.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> add_channel_bias(const Var<T>& x, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("add_channel_bias", {x, b});
  const Shape& s = x.shape();
  MODELMIX_REQUIRE(s.rank() == 4, "Bias: expected an NCHW input, got shape ", s);
  MODELMIX_REQUIRE(b.shape() == Shape{s[1]}, "Bias: input ", s, " has ", s[1], " channels but the bias has shape ",
                   b.shape());
  const index_t N = s[0], C = s[1], HW = s[2] * s[3];
  const device where = device_of("add_channel_bias", {x.value(), b.value()});
  Tensor<T> y = Tensor<T>::empty(s, where);
  run_on("add_channel_bias", where,
         [&] { cpu::add_channel_bias(x.value().data(), b.value().data(), y.data(), N, C, HW); },
         MODELMIX_CUDA_FLOAT(T, "add_channel_bias",
                             cuda::add_channel_bias(x.value().data(), b.value().data(), y.data(), N, C, HW)));
  return tape.record("add_channel_bias", std::move(y), {x, b}, [&tape, x, b, N, C, HW](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x)) detail::accumulate_scaled("add_channel_bias", T(1), g, *gx);
    if (Tensor<T>* gb = tape.grad_slot(b))
      run_on("add_channel_bias", g.where(),
             [&] { cpu::add_channel_bias_backward_bias(g.data(), gb->data(), N, C, HW); },
             MODELMIX_CUDA_FLOAT(T, "add_channel_bias",
                                 cuda::add_channel_bias_backward_bias(g.data(), gb->data(), N, C, HW)));
  });
}

}  // namespace modelmix::ops
