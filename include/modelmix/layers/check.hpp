#pragma once
// check_layer_gradients: the layer contract's gradient test, shipped so users can run it on
// their own layers and networks (double precision only).
//
// Compares, by central differences (autograd::gradcheck), the gradient of L = ⟨r, forward(x)⟩
// with respect to the input, every parameter the layer visits, and — for mixed views — every
// parameter of every parent (named parent0.weight, parent1.bias, ...) and the learnable
// coefficients. A gradient that is never written, or written to the wrong parent, shows up as
// a mismatch. The context is copied per evaluation, so dropout masks stay fixed.
#include <string>
#include <vector>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/layers/concepts.hpp"
#include "modelmix/layers/traversal.hpp"

namespace modelmix::layers {

template <class L>
  requires has_forward<L> && std::same_as<typename L::value_type, double>
[[nodiscard]] autograd::gradcheck_result check_layer_gradients(L& layer, const Tensor<double>& input,
                                                               const forward_context<double>& ctx = {},
                                                               const autograd::gradcheck_options& options = {}) {
  std::vector<autograd::named_parameter<double>> parameters;
  auto collect = [&](auto& node, const std::string& prefix) {
    for (auto& [name, p] : named_parameters(node, prefix)) parameters.push_back({name, p});
  };
  collect(layer, "");
  if constexpr (requires { layer.parents(); }) {
    std::size_t i = 0;
    for (auto* parent : layer.parents()) collect(*parent, "parent" + std::to_string(i++));
  }
  auto fn = [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
    const forward_context<double> step = ctx;
    return layer.forward(tape, in[0], step);
  };
  return autograd::gradcheck(fn, {input}, parameters, options);
}

}  // namespace modelmix::layers
