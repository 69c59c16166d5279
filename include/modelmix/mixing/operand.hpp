#pragma once
// One parent of a mixed op as the autograd level sees it: its parameters and its coefficient,
// all as Vars on one tape. ops::conv2d turns a list of operands into a mixing::spec (mixing/spec.hpp)
// for the backend; a parent bound with tape.constant_ref has no gradient slot, so its
// gradient pointers stay null in the spec.
#include "modelmix/autograd/tape.hpp"

namespace modelmix::mixing {

// The coefficient is a [1] tensor: a constant for a fixed λ, a Parameter when learnable.
template <class T>
struct operand {
  Var<T> weight;
  Var<T> bias;  // may be empty (valid() == false) when the layer has no bias
  Var<T> coeff;
};

}  // namespace modelmix::mixing
