#pragma once
// A trainable tensor and the gradient that backward() accumulates into it.
// Layers own Parameters; a Tape binds them by reference (Tape::parameter), so a step never
// copies weights and several tapes or mixed views can feed gradients into the same storage.
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::autograd {

template <class T>
struct Parameter {
  Tensor<T> value;
  Tensor<T> grad;  // same shape as value; zeroed by the optimizer, accumulated by backward

  Parameter() = default;
  explicit Parameter(Tensor<T> initial)
      : value(std::move(initial)), grad(Tensor<T>::zeros(value.shape(), value.where())) {}

  [[nodiscard]] const Shape& shape() const { return value.shape(); }
  [[nodiscard]] index_t numel() const { return value.numel(); }
  void zero_grad() { grad.zero(); }
  // Value and gradient moved to `where` (a no-op when they are there already).
  void to(device where) {
    if (value.where() == where) return;
    value = value.to(where);
    grad = grad.to(where);
  }
};

}  // namespace modelmix::autograd

namespace modelmix {
using autograd::Parameter;
}
