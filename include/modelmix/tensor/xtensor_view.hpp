#pragma once
// Zero-copy xtensor views of tensor storage, for host-side elementwise expressions:
//   auto x = as_xtensor(t); x = xt::maximum(x, 0);
#include <xtensor/xadapt.hpp>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix {

template <class T>
auto as_xtensor(Tensor<T>& t) {
  std::vector<std::size_t> shape(t.shape().dims().begin(), t.shape().dims().end());
  return xt::adapt(t.data(), static_cast<std::size_t>(t.numel()), xt::no_ownership(), shape);
}
template <class T>
auto as_xtensor(const Tensor<T>& t) {
  std::vector<std::size_t> shape(t.shape().dims().begin(), t.shape().dims().end());
  return xt::adapt(t.data(), static_cast<std::size_t>(t.numel()), xt::no_ownership(), shape);
}

}  // namespace modelmix
