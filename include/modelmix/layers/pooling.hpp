#pragma once
// MaxPool2d as a layer: 2×2 windows, stride 2 (ops/pooling.hpp), no parameters.
//   x [N, C, H, W] → y [N, C, ⌊H/2⌋, ⌊W/2⌋]
#include <string>

#include "modelmix/layers/forward_context.hpp"
#include "modelmix/ops/pooling.hpp"

namespace modelmix::layers {

template <class T>
class MaxPool2d {
 public:
  using value_type = T;
  Var<T> forward(Tape<T>&, const Var<T>& x, const forward_context<T>&) { return ops::max_pool2d(x); }
  template <class F>
  void visit_parameters(const std::string&, F&&) {}
};

}  // namespace modelmix::layers
