#pragma once
// Softmax over axis 1 (the channels of NCHW; any rank ≥ 2, the axes after 1 are "positions").
//
//   x [N, C, ...] → y, same shape:  y[n,c,s] = exp(x[n,c,s] − m[n,s]) / Σ_c' exp(x[n,c',s] − m[n,s])
//   with m[n,s] = max_c x[n,c,s] (stability: every exponent is ≤ 0, the sum is ≥ 1).
//   ∂x[n,c,s] += y[n,c,s] · (g[n,c,s] − Σ_c' g[n,c',s]·y[n,c',s])
//
// Channel c of a sample is a contiguous block of S positions, so the loops (ops/cpu/softmax.hpp)
// run over positions in the inner loop (vectorisable) with per-position running max / sum buffers;
// on a CUDA device one thread per position walks the channels (ops/cuda/softmax.hpp).
#include "modelmix/ops/cpu/softmax.hpp"
#include "modelmix/ops/cuda/softmax.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> softmax_channels(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  MODELMIX_REQUIRE(s.rank() >= 2, "softmax_channels: needs a channel axis (rank >= 2), got shape ", s);
  const index_t N = s[0], C = s[1], S = s.stride(1);
  MODELMIX_REQUIRE(C > 0, "softmax_channels: no channels in shape ", s);
  const device where = device_of("softmax_channels", {x.value()});
  Tensor<T> y = Tensor<T>::empty(s, where);
  run_on("softmax_channels", where, [&] { cpu::softmax_channels(x.value().data(), y.data(), N, C, S); },
         MODELMIX_CUDA_FLOAT(T, "softmax_channels", cuda::softmax_channels(x.value().data(), y.data(), N, C, S)));
  // Backward reads y; a copy is kept because the closure cannot name its own output node.
  Tensor<T> saved = y;
  return tape.record("softmax_channels", std::move(y), {x}, [&tape, x, y = std::move(saved), N, C, S](const Tensor<T>& g) {
    const gradient_sink<T> gx = tape.grad_target(x);
    if (!gx) return;
    run_on("softmax_channels", g.where(),
           [&] { cpu::softmax_channels_backward(g.data(), y.data(), gx.slot->data(), N, C, S, gx.assign); },
           MODELMIX_CUDA_FLOAT(T, "softmax_channels",
                               cuda::softmax_channels_backward(g.data(), y.data(), gx.slot->data(), N, C, S,
                                                               gx.assign)));
  });
}

}  // namespace modelmix::ops
