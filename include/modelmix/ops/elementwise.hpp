#pragma once
// Elementwise arithmetic on Vars. Binary ops need equal shapes (no broadcasting: a
// mismatch is an error, never a silent expansion). Any rank; loops run over flat storage
// (ops/cpu/elementwise.hpp, ops/cuda/elementwise.hpp), dispatched by device in ops/dispatch.hpp.
//
//   add:        y = a + b            ∂a += g        ∂b += g
//   sub:        y = a − b            ∂a += g        ∂b += −g
//   mul:        y = a ⊙ b            ∂a += g ⊙ b    ∂b += g ⊙ a
//   scale:      y = s·a              ∂a += s·g
//   add_scalar: y = a + s            ∂a += g
//   log:        y = log(x + ε)       ∂x += g / (x + ε)     (x + ε ≤ 0 gives −inf/NaN, unchecked)
//
// Scalar arguments are not deduced (std::type_identity_t), so ops::scale(v, 0.5) works for
// a Var<float>.
//
// detail:: holds the shape checks the other op headers share.
#include <type_traits>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/ops/cpu/elementwise.hpp"
#include "modelmix/ops/cuda/elementwise.hpp"
#include "modelmix/ops/dispatch.hpp"

namespace modelmix::ops {
namespace detail {

inline void require_same_shape(const char* op, const Shape& a, const Shape& b) {
  MODELMIX_REQUIRE(a == b, op, ": operand shapes differ: ", a, " and ", b, " (no broadcasting)");
}

inline void require_nchw(const char* op, const Shape& x) {
  MODELMIX_REQUIRE(x.rank() == 4, op, ": expected an NCHW tensor (rank 4), got shape ", x);
}

// grad += s·g for a gradient slot on any device: the backward of add, sub, scale, ...
template <class T>
void accumulate_scaled(const char* op, T s, const Tensor<T>& g, Tensor<T>& grad) {
  run_on(op, grad.where(), [&] { cpu::axpy(s, g.data(), grad.data(), g.numel()); },
         MODELMIX_CUDA_FLOAT(T, op, cuda::elementwise({.op = cuda::elementwise_op::axpy, .s = s, .a = g.data(),
                                                      .y = grad.data(), .n = g.numel()})));
}

// y = f(a, b) for two equal-shaped inputs on one device; the forward of add, sub, mul.
template <class T, class CpuLoop>
Tensor<T> binary_forward(const char* op, const Var<T>& a, const Var<T>& b, CpuLoop loop,
                         [[maybe_unused]] cuda::elementwise_op kernel) {
  require_same_shape(op, a.shape(), b.shape());
  const device where = device_of(op, {a.value(), b.value()});
  Tensor<T> y = Tensor<T>::empty(a.shape(), where);
  run_on(op, where, [&] { loop(a.value().data(), b.value().data(), y.data(), y.numel()); },
         MODELMIX_CUDA_FLOAT(T, op, cuda::elementwise({.op = kernel, .a = a.value().data(), .b = b.value().data(),
                                                      .y = y.data(), .n = y.numel()})));
  return y;
}

// y = f(a, s) for one input: the forward of scale, add_scalar, log.
template <class T, class CpuLoop>
Tensor<T> unary_forward(const char* op, const Var<T>& a, T s, CpuLoop loop,
                        [[maybe_unused]] cuda::elementwise_op kernel) {
  const device where = a.value().where();
  Tensor<T> y = Tensor<T>::empty(a.shape(), where);
  run_on(op, where, [&] { loop(s, a.value().data(), y.data(), y.numel()); },
         MODELMIX_CUDA_FLOAT(T, op, cuda::elementwise({.op = kernel, .s = s, .a = a.value().data(), .y = y.data(),
                                                      .n = y.numel()})));
  return y;
}

}  // namespace detail

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("add", {a, b});
  Tensor<T> y = detail::binary_forward("add", a, b, cpu::add<T>, cuda::elementwise_op::add);
  return tape.record("add", std::move(y), {a, b}, [&tape, a, b](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a)) detail::accumulate_scaled("add", T(1), g, *ga);
    if (Tensor<T>* gb = tape.grad_slot(b)) detail::accumulate_scaled("add", T(1), g, *gb);
  });
}

template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("sub", {a, b});
  Tensor<T> y = detail::binary_forward("sub", a, b, cpu::sub<T>, cuda::elementwise_op::sub);
  return tape.record("sub", std::move(y), {a, b}, [&tape, a, b](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a)) detail::accumulate_scaled("sub", T(1), g, *ga);
    if (Tensor<T>* gb = tape.grad_slot(b)) detail::accumulate_scaled("sub", T(-1), g, *gb);
  });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("mul", {a, b});
  Tensor<T> y = detail::binary_forward("mul", a, b, cpu::mul<T>, cuda::elementwise_op::mul);
  return tape.record("mul", std::move(y), {a, b}, [&tape, a, b](const Tensor<T>& g) {
    // ∂a = g ⊙ b, ∂b = g ⊙ a: each input's gradient reads the other's value.
    auto product_into = [&](const Var<T>& target, const Var<T>& other) {
      if (Tensor<T>* gt = tape.grad_slot(target))
        run_on("mul", g.where(), [&] { cpu::mul_backward(g.data(), other.value().data(), gt->data(), g.numel()); },
               MODELMIX_CUDA_FLOAT(T, "mul", cuda::elementwise({.op = cuda::elementwise_op::mul_backward, .a = g.data(),
                                                               .b = other.value().data(), .y = gt->data(),
                                                               .n = g.numel()})));
    };
    product_into(a, b);
    product_into(b, a);
  });
}

template <class T>
Var<T> scale(const Var<T>& a, std::type_identity_t<T> s) {
  Tape<T>& tape = a.tape();
  Tensor<T> y = detail::unary_forward("scale", a, T(s), cpu::scale<T>, cuda::elementwise_op::scale);
  return tape.record("scale", std::move(y), {a}, [&tape, a, s](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a)) detail::accumulate_scaled("scale", s, g, *ga);
  });
}

template <class T>
Var<T> add_scalar(const Var<T>& a, std::type_identity_t<T> s) {
  Tape<T>& tape = a.tape();
  Tensor<T> y = detail::unary_forward("add_scalar", a, T(s), cpu::add_scalar<T>, cuda::elementwise_op::add_scalar);
  return tape.record("add_scalar", std::move(y), {a}, [&tape, a](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a)) detail::accumulate_scaled("add_scalar", T(1), g, *ga);
  });
}

template <class T>
Var<T> log(const Var<T>& x, std::type_identity_t<T> eps = T(0)) {
  Tape<T>& tape = x.tape();
  Tensor<T> y = detail::unary_forward("log", x, T(eps), cpu::log<T>, cuda::elementwise_op::log);
  return tape.record("log", std::move(y), {x}, [&tape, x, eps](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x))
      run_on("log", g.where(), [&] { cpu::log_backward(eps, x.value().data(), g.data(), gx->data(), g.numel()); },
             MODELMIX_CUDA_FLOAT(T, "log", cuda::elementwise({.op = cuda::elementwise_op::log_backward, .s = eps,
                                                             .a = x.value().data(), .b = g.data(), .y = gx->data(),
                                                             .n = g.numel()})));
  });
}

}  // namespace modelmix::ops
