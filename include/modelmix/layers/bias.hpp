#pragma once
// Bias: a standalone per-channel bias (e.g. after a bias-free convolution).
//
//   x [N, C, H, W]   bias [C]   y[n,c,h,w] = x[n,c,h,w] + bias[c]
//   ∂x += g          ∂bias[c] += Σ_{n,h,w} g[n,c,h,w]
//
// Initialised to zero. Mixed: bias = Σ c_i·bias_i through ops::combine (a [C] vector is too
// small for anything to gain from fusing it). The op itself is ops::add_channel_bias.
#include <string>
#include <vector>

#include "modelmix/layers/forward_context.hpp"
#include "modelmix/mixing/mixable.hpp"
#include "modelmix/ops/channel_bias.hpp"
#include "modelmix/ops/combine.hpp"

namespace modelmix::layers {

struct bias_options {
  index_t channels = 1;
};

template <class T>
class Bias : public mixing::mixable<Bias<T>, T> {
 public:
  using value_type = T;

  Parameter<T> bias;  // [C]

  explicit Bias(const bias_options& options) : bias(Tensor<T>(Shape{options.channels})) {
    MODELMIX_REQUIRE(options.channels > 0, "Bias: channels must be positive, got ", options.channels);
  }

  Var<T> forward_own(Tape<T>& tape, const Var<T>& x, const forward_context<T>&) {
    return ops::add_channel_bias(x, tape.parameter(bias));
  }

  static Var<T> forward_mixed(Tape<T>& tape, const Var<T>& x, const mix_inputs<Bias>& in, const forward_context<T>&) {
    std::vector<std::pair<Var<T>, Var<T>>> terms;
    for (std::size_t i = 0; i < in.size(); ++i) terms.emplace_back(in.bind(tape, i, in.parent(i).bias), in.coeffs[i]);
    return ops::add_channel_bias(x, ops::combine(terms));
  }

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    f(join_path(prefix, "bias"), bias);
  }
};

}  // namespace modelmix::layers
