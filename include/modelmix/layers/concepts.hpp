#pragma once
// The layer contract, written once.
//
//   Layer      value_type (float or double); Var<T> forward(Tape<T>&, const Var<T>& x,
//              const forward_context<T>&); visit_parameters(prefix, f) calling
//              f(dotted_name, Parameter<T>&) in a fixed order with PyTorch state_dict names.
//   Mixable    a Layer with a.mix(alpha, b[, mix_options]) returning a view that is a Layer.
//   Container  anything with visit_layers(prefix, f) calling f(path, child&) for each direct
//              child (layers/traversal.hpp recurses into children that are containers).
//   Network    a Container with the Layer forward: what network-level mixing works on.
#include <concepts>
#include <string>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/device.hpp"
#include "modelmix/layers/forward_context.hpp"
#include "modelmix/layers/mix_options.hpp"

namespace modelmix::layers {

namespace detail {
// Archetypes: the narrowest visitors a layer must accept.
template <class T>
struct parameter_visitor_archetype {
  void operator()(const std::string&, Parameter<T>&) const {}
};
struct layer_visitor_archetype {
  template <class L>
  void operator()(const std::string&, L&) const {}
};
}  // namespace detail

template <class L>
concept has_forward = Scalar<typename L::value_type> &&
    requires(L& layer, Tape<typename L::value_type>& tape, const Var<typename L::value_type>& x,
             const forward_context<typename L::value_type>& ctx) {
      { layer.forward(tape, x, ctx) } -> std::same_as<Var<typename L::value_type>>;
    };

template <class L>
concept Layer = has_forward<L> && requires(L& layer, const std::string& prefix) {
  layer.visit_parameters(prefix, detail::parameter_visitor_archetype<typename L::value_type>{});
};

template <class L>
concept Mixable = Layer<L> && requires(L& a, L& b, const mix_options& options) {
  { a.mix(0.5, b) } -> Layer;
  { a.mix(0.5, b, options) } -> Layer;
};

template <class N>
concept Container = requires(N& net, const std::string& prefix) {
  net.visit_layers(prefix, detail::layer_visitor_archetype{});
};

template <class N>
concept Network = Container<N> && has_forward<N>;

}  // namespace modelmix::layers
