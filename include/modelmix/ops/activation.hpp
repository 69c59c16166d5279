#pragma once
// Activations, elementwise on any shape (loops in ops/cpu/elementwise.hpp, kernels in
// ops/cuda/elementwise.cuh).
//
//   relu: y = max(x, 0)        ∂x += g · [x > 0]     (the subgradient at 0 is 0, as in PyTorch)
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> relu(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  const device where = x.value().where();
  Tensor<T> y = Tensor<T>::empty(x.shape(), where);
  run_on("relu", where, [&] { cpu::relu(x.value().data(), y.data(), y.numel()); },
         MODELMIX_CUDA_FLOAT(T, "relu", cuda::elementwise({.op = cuda::elementwise_op::relu, .a = x.value().data(),
                                                          .y = y.data(), .n = y.numel()})));
  return tape.record("relu", std::move(y), {x}, [&tape, x](const Tensor<T>& g) {
    if (const gradient_sink<T> gx = tape.grad_target(x))
      run_on("relu", g.where(),
             [&] { cpu::relu_backward(x.value().data(), g.data(), gx.slot->data(), g.numel(), gx.assign); },
             MODELMIX_CUDA_FLOAT(T, "relu", cuda::elementwise({.op = cuda::elementwise_op::relu_backward,
                                                              .a = x.value().data(), .b = g.data(),
                                                              .y = gx.slot->data(), .n = g.numel(),
                                                              .assign = gx.assign})));
  });
}

}  // namespace modelmix::ops
