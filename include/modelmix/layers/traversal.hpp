#pragma once
// Walking a network by name.
//
// A network is a tree: containers (Sequential, user structs) expose visit_layers(prefix, f)
// calling f(path, child&) for each direct child; leaves are layers with visit_parameters.
// The functions here recurse through containers and hand every leaf, parameter or buffer to f
// with its dotted path, in a fixed order (the order of the visit_* calls), so checkpoints,
// selectors and mixing all speak the same names:
//
//   for_each_layer(net, f)       f(path, leaf&)                      e.g. "encoder.0"
//   for_each_parameter(net, f)   f(name, Parameter<T>&)              e.g. "encoder.0.weight"
//   for_each_buffer(net, f)      f(name, Tensor<T>&)                 e.g. "encoder.1.running_mean"
//   named_parameters(net)        the same list as (name, Parameter<T>*) pairs, the form the
//                                optimizers take (optim::Sgd, optim::Adam)
#include <string>
#include <utility>
#include <vector>

#include "modelmix/layers/concepts.hpp"

namespace modelmix::layers {

namespace detail {
template <class F>
struct leaf_walker {
  F& f;
  template <class L>
  void operator()(const std::string& path, L& node) const {
    if constexpr (Container<L>)
      node.visit_layers(path, *this);
    else
      f(path, node);
  }
};
}  // namespace detail

template <class Net, class F>
void for_each_layer(Net& net, F&& f, const std::string& prefix = "") {
  detail::leaf_walker<std::remove_reference_t<F>>{f}(prefix, net);
}

template <class Net, class F>
void for_each_parameter(Net& net, F&& f, const std::string& prefix = "") {
  for_each_layer(net, [&](const std::string& path, auto& leaf) { leaf.visit_parameters(path, f); }, prefix);
}

// Leaves without buffers need not declare visit_buffers.
template <class Net, class F>
void for_each_buffer(Net& net, F&& f, const std::string& prefix = "") {
  for_each_layer(
      net,
      [&](const std::string& path, auto& leaf) {
        if constexpr (requires { leaf.visit_buffers(path, f); }) leaf.visit_buffers(path, f);
      },
      prefix);
}

template <class Net>
[[nodiscard]] std::vector<std::pair<std::string, Parameter<typename Net::value_type>*>> named_parameters(
    Net& net, const std::string& prefix = "") {
  using T = typename Net::value_type;
  std::vector<std::pair<std::string, Parameter<T>*>> out;
  for_each_parameter(net, [&](const std::string& name, Parameter<T>& p) { out.emplace_back(name, &p); }, prefix);
  return out;
}

}  // namespace modelmix::layers
