#pragma once
// The layer side of mixing, written once. A parametric layer derives from
// mixing::mixable<itself, T> and provides two computations:
//
//   Var<T> forward_own(tape, x, ctx)                                   its plain layer
//   static Var<T> forward_mixed(tape, x, const layers::mix_inputs<L>&, ctx)
//                                      the mixed one: its parameters enter the op as a mix spec
//
// and gets, from here, everything else a Mixable layer needs:
//   a.mix(α, b)           a view θ = α·θ_a + (1−α)·θ_b (layers/mixed_layer.hpp)
//   a.forward(tape, x, ctx)
//                         the mixed view bound to `a` in ctx.mixing (a network-level mix,
//                         layers/mix_bindings.hpp) when there is one, else forward_own.
#include "modelmix/layers/forward_context.hpp"
#include "modelmix/layers/mix_bindings.hpp"
#include "modelmix/layers/mixed_layer.hpp"

namespace modelmix::mixing {

template <class L, class T>
class mixable {
 public:
  Var<T> forward(Tape<T>& tape, const Var<T>& x, const layers::forward_context<T>& ctx) {
    if (const auto* mixed = layers::bound_mix(ctx, &self())) return mixed->forward(tape, x, ctx);
    return self().forward_own(tape, x, ctx);
  }

  // θ = α·θ_this + (1−α)·θ_other, as a view.
  [[nodiscard]] layers::MixedLayer<L> mix(double alpha, L& other, const layers::mix_options& options = {}) {
    const auto c = layers::two_way_coefficients(alpha, options);
    return layers::MixedLayer<L>({{self(), c[0]}, {other, c[1]}}, options);
  }

 private:
  L& self() { return static_cast<L&>(*this); }
};

}  // namespace modelmix::mixing
