#pragma once
// BASELINE ONLY — exists for tests and benchmarks, never used by layers or models.
//
// The "naive" way to run a mixed layer: materialize W = Σ_i c_i·W_i and b = Σ_i c_i·b_i into
// fresh tensors (a copy of the mixed layer), run the plain one-term CPU convolution on them,
// and in wgrad compute dW, db into fresh tensors before splitting them into the parents
// (split into the parents as the fused path does, ops/cpu/mix_gradient.hpp). It computes exactly what
// ops/cpu/conv2d.hpp computes; the benchmarks measure what materializing costs.
// Shapes and accumulation rules as in ops/cpu/conv2d.hpp.
#include <type_traits>

#include "modelmix/ops/cpu/conv2d.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops::cpu {

namespace detail {
template <class T>
Tensor<T> materialize(const mixing::spec<T>& spec, index_t numel, const T* mixing::term<T>::*parent) {
  Tensor<T> out = Tensor<T>::empty(Shape{numel});
  mixing::weighted_sum(out.data(), numel, spec, parent);
  return out;
}

// A one-term, coefficient-1 spec over materialized tensors.
template <class T>
mixing::spec<T> plain_spec(const mixing::spec<T>& spec, std::type_identity_t<const T*> weight,
                       std::type_identity_t<const T*> bias, std::type_identity_t<T*> grad_weight = nullptr,
                       std::type_identity_t<T*> grad_bias = nullptr) {
  mixing::spec<T> plain{{mixing::term<T>{weight, bias, T(1), grad_weight, grad_bias, nullptr}}, spec.weight_numel,
                    spec.bias_numel};
  return plain;
}
}  // namespace detail

template <class T>
void conv2d_fprop_naive(const conv2d_problem& pb, const T* x, T* y, const mixing::spec<T>& spec) {
  check_conv2d_spec("cpu::conv2d_fprop_naive", pb, spec, conv2d_role::fprop);
  const Tensor<T> w = detail::materialize(spec, spec.weight_numel, &mixing::term<T>::weight);
  const Tensor<T> b = detail::materialize(spec, spec.bias_numel, &mixing::term<T>::bias);
  conv2d_fprop(pb, x, y, detail::plain_spec(spec, w.data(), spec.has_bias() ? b.data() : nullptr));
}

template <class T>
void conv2d_dgrad_naive(const conv2d_problem& pb, const T* dy, T* dx, const mixing::spec<T>& spec) {
  check_conv2d_spec("cpu::conv2d_dgrad_naive", pb, spec, conv2d_role::dgrad);
  const Tensor<T> w = detail::materialize(spec, spec.weight_numel, &mixing::term<T>::weight);
  conv2d_dgrad(pb, dy, dx, detail::plain_spec(spec, w.data(), nullptr));
}

template <class T>
void conv2d_wgrad_naive(const conv2d_problem& pb, const T* x, const T* dy, const mixing::spec<T>& spec) {
  check_conv2d_spec("cpu::conv2d_wgrad_naive", pb, spec, conv2d_role::wgrad);
  Tensor<T> dw(Shape{spec.wants_weight_grad() ? spec.weight_numel : 0});
  Tensor<T> db(Shape{spec.wants_bias_grad() ? spec.bias_numel : 0});
  conv2d_wgrad(pb, x, dy, detail::plain_spec(spec, nullptr, nullptr, dw.empty() ? nullptr : dw.data(),
                                             db.empty() ? nullptr : db.data()));
  split_into_parents(spec, dw.empty() ? nullptr : dw.data(), db.empty() ? nullptr : db.data());
}

}  // namespace modelmix::ops::cpu
