#pragma once
// Bias: a standalone per-channel bias (e.g. after a bias-free convolution).
//
//   x [N, C, H, W]   bias [C]   y[n,c,h,w] = x[n,c,h,w] + bias[c]
//   ∂x += g          ∂bias[c] += Σ_{n,h,w} g[n,c,h,w]
//
// Initialised to zero. Mixed: bias = Σ c_i·bias_i through ops::combine (a [C] vector is too
// small for anything to gain from fusing it).
#include <string>
#include <vector>

#include "modelmix/layers/forward_context.hpp"
#include "modelmix/layers/mix_bindings.hpp"
#include "modelmix/layers/mixed_layer.hpp"
#include "modelmix/ops/combine.hpp"

namespace modelmix::layers {

// x + b broadcast over N, H, W; recorded here because no other op broadcasts.
template <class T>
Var<T> add_channel_bias(const Var<T>& x, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("add_channel_bias", {x, b});
  const Shape& s = x.shape();
  MODELMIX_REQUIRE(s.rank() == 4, "Bias: expected an NCHW input, got shape ", s);
  MODELMIX_REQUIRE(b.shape() == Shape{s[1]}, "Bias: input ", s, " has ", s[1], " channels but the bias has shape ",
                   b.shape());
  const index_t N = s[0], C = s[1], HW = s[2] * s[3];
  Tensor<T> y = x.value();
  const T* pb = b.value().data();
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < C; ++c) {
      T* py = y.data() + (n * C + c) * HW;
      for (index_t i = 0; i < HW; ++i) py[i] += pb[c];
    }
  return tape.record("add_channel_bias", std::move(y), {x, b}, [&tape, x, b, N, C, HW](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x)) *gx += g;
    if (Tensor<T>* gb = tape.grad_slot(b))
      for (index_t n = 0; n < N; ++n)
        for (index_t c = 0; c < C; ++c) {
          const T* pg = g.data() + (n * C + c) * HW;
          T sum = 0;
          for (index_t i = 0; i < HW; ++i) sum += pg[i];
          (*gb)[c] += sum;
        }
  });
}

struct bias_options {
  index_t channels = 1;
};

template <class T>
class Bias {
 public:
  using value_type = T;

  Parameter<T> bias;  // [C]

  explicit Bias(const bias_options& options) : bias(Tensor<T>(Shape{options.channels})) {
    MODELMIX_REQUIRE(options.channels > 0, "Bias: channels must be positive, got ", options.channels);
  }

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) {
    if (const auto* mixed = bound_mix(ctx, this)) return mixed->forward(tape, x, ctx);
    return add_channel_bias(x, tape.parameter(bias));
  }

  [[nodiscard]] MixedLayer<Bias> mix(double alpha, Bias& other, const mix_options& options = {}) {
    const auto c = two_way_coefficients(alpha, options);
    return MixedLayer<Bias>({{*this, c[0]}, {other, c[1]}}, options);
  }

  static Var<T> forward_mixed(Tape<T>& tape, const Var<T>& x, const mix_inputs<Bias>& in, const forward_context<T>&) {
    std::vector<std::pair<Var<T>, Var<T>>> terms;
    for (std::size_t i = 0; i < in.size(); ++i) terms.emplace_back(in.bind(tape, i, in.parent(i).bias), in.coeffs[i]);
    return add_channel_bias(x, ops::combine(terms));
  }

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    f(join_path(prefix, "bias"), bias);
  }
};

}  // namespace modelmix::layers
