#pragma once
// ReLU as a layer: y = max(x, 0), no parameters.
#include <string>

#include "modelmix/layers/forward_context.hpp"
#include "modelmix/ops/activation.hpp"

namespace modelmix::layers {

template <class T>
class ReLU {
 public:
  using value_type = T;
  Var<T> forward(Tape<T>&, const Var<T>& x, const forward_context<T>&) { return ops::relu(x); }
  template <class F>
  void visit_parameters(const std::string&, F&&) {}
};

}  // namespace modelmix::layers
