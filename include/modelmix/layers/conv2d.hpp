#pragma once
// Conv2d and Linear: a k×k convolution with named parameters (PyTorch state_dict names).
//
//   x [N, C, H, W]   weight [K, C, k, k]   bias [K] (optional)   y [N, K, P, Q]
//   P = (H + 2·padding − k)/stride + 1  (Q likewise)
//
// Linear is a 1×1 convolution on NCHW (weight [K, C, 1, 1]): the same class, built from
// linear_options, so it mixes and dispatches exactly like Conv2d.
//
// Mixed (a.mix(α, b), or bound in a network-level mix): one ops::conv2d call with every
// parent as a mix operand — W = Σ c_i·W_i is formed inside the convolution, never stored.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "modelmix/layers/forward_context.hpp"
#include "modelmix/layers/init.hpp"
#include "modelmix/mixing/mixable.hpp"
#include "modelmix/mixing/operand.hpp"
#include "modelmix/ops/conv2d.hpp"

namespace modelmix::layers {

struct conv2d_options {
  index_t in_channels = 1;
  index_t out_channels = 1;
  index_t kernel_size = 3;
  index_t stride = 1;
  index_t padding = 0;
  bool bias = true;
  ops::conv2d_path path = ops::conv2d_path::fused;
};

// A 1×1 convolution: Linear<T>(linear_options{.in_features = 8, .out_features = 4}, rng).
struct linear_options {
  index_t in_features = 1;
  index_t out_features = 1;
  bool bias = true;
  operator conv2d_options() const { return {in_features, out_features, 1, 1, 0, bias}; }  // NOLINT: implicit
};

template <class T>
class Conv2d : public mixing::mixable<Conv2d<T>, T> {
 public:
  using value_type = T;

  Parameter<T> weight;  // [K, C, k, k]
  Parameter<T> bias;    // [K]; empty when options.bias is false

  Conv2d(const conv2d_options& options, init_rng& rng) : options_(options) {
    MODELMIX_REQUIRE(options.in_channels > 0 && options.out_channels > 0 && options.kernel_size > 0,
                     "Conv2d: channels and kernel_size must be positive, got in=", options.in_channels,
                     " out=", options.out_channels, " k=", options.kernel_size);
    MODELMIX_REQUIRE(options.stride > 0 && options.padding >= 0, "Conv2d: bad stride ", options.stride,
                     " or padding ", options.padding);
    const index_t k = options.kernel_size;
    const index_t fan_in = options.in_channels * k * k;
    weight = Parameter<T>(Tensor<T>(Shape{options.out_channels, options.in_channels, k, k}));
    kaiming_uniform_init(weight.value, fan_in, rng);
    if (options.bias) {
      bias = Parameter<T>(Tensor<T>(Shape{options.out_channels}));
      kaiming_uniform_init(bias.value, fan_in, rng);
    }
  }
  Conv2d(const conv2d_options& options, init_rng&& rng) : Conv2d(options, rng) {}
  explicit Conv2d(const conv2d_options& options, std::uint64_t seed = 0) : Conv2d(options, init_rng(seed)) {}

  [[nodiscard]] const conv2d_options& options() const { return options_; }
  [[nodiscard]] bool has_bias() const { return options_.bias; }

  Var<T> forward_own(Tape<T>& tape, const Var<T>& x, const forward_context<T>&) {
    return ops::conv2d(x, tape.parameter(weight), has_bias() ? tape.parameter(bias) : Var<T>{}, op_options());
  }

  // The mixed computation, shared by MixedLayer and network-level bindings.
  static Var<T> forward_mixed(Tape<T>& tape, const Var<T>& x, const mix_inputs<Conv2d>& in,
                              const forward_context<T>&) {
    std::vector<mixing::operand<T>> operands;
    operands.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      Conv2d& p = in.parent(i);
      operands.push_back({in.bind(tape, i, p.weight), p.has_bias() ? in.bind(tape, i, p.bias) : Var<T>{},
                          in.coeffs[i]});
    }
    return ops::conv2d(x, std::span<const mixing::operand<T>>(operands), in.host().op_options());
  }

  void check_mixable_with(const Conv2d& other, const std::string& path) const {
    MODELMIX_REQUIRE(options_.stride == other.options_.stride && options_.padding == other.options_.padding, "mix: ",
                     path.empty() ? std::string("Conv2d") : path, " has stride ", options_.stride, ", padding ",
                     options_.padding, " vs stride ", other.options_.stride, ", padding ", other.options_.padding);
  }

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    f(join_path(prefix, "weight"), weight);
    if (has_bias()) f(join_path(prefix, "bias"), bias);
  }

 private:
  [[nodiscard]] ops::conv2d_options op_options() const { return {options_.stride, options_.padding, options_.path}; }

  conv2d_options options_;
};

template <class T>
using Linear = Conv2d<T>;

}  // namespace modelmix::layers
