#pragma once
// BatchNorm2d: ops/batch_norm.hpp with named state, PyTorch's defaults and names.
//
//   x [N, C, H, W]   weight γ [C] (init 1)   bias β [C] (init 0)
//   buffers running_mean [C] (init 0), running_var [C] (init 1)   momentum 0.1   eps 1e-5
//
// Mixed: γ = Σ c_i·γ_i and β = Σ c_i·β_i through ops::combine. The running statistics are
// never mixed silently: in evaluation the mixed layer normalises with the host's, the
// partner's (parent 1), the interpolated Σ c_i·stats_i, or the batch's own statistics, per
// mix_options::bn_stats; in training it uses the batch statistics and updates no parent's
// running statistics (the virtual model is transient; the original code likewise mixes a
// throw-away copy).
// Interpolated statistics are buffers: with a learnable coefficient, ∂L/∂c_i comes through γ
// and β only, not through the statistics (a stop-gradient, as for any running statistic).
// Configuration (eps, momentum) is the host's.
// With ctx.relu_after_batch_norm (set only by layers::conv_bn_relu) the output is rectified in
// the same op (ops::batch_norm2d_relu).
#include <string>
#include <utility>
#include <vector>

#include "modelmix/layers/forward_context.hpp"
#include "modelmix/mixing/mixable.hpp"
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/batch_norm.hpp"
#include "modelmix/ops/combine.hpp"

namespace modelmix::layers {

struct batch_norm2d_options {
  index_t channels = 1;
  double eps = 1e-5;
  double momentum = 0.1;
};

template <class T>
class BatchNorm2d : public mixing::mixable<BatchNorm2d<T>, T> {
 public:
  using value_type = T;

  Parameter<T> weight;      // γ [C]
  Parameter<T> bias;        // β [C]
  Tensor<T> running_mean;   // [C]
  Tensor<T> running_var;    // [C]

  explicit BatchNorm2d(const batch_norm2d_options& options)
      : weight(Tensor<T>(Shape{options.channels}, T(1))),
        bias(Tensor<T>(Shape{options.channels})),
        running_mean(Shape{options.channels}),
        running_var(Shape{options.channels}, T(1)),
        options_(options) {
    MODELMIX_REQUIRE(options.channels > 0, "BatchNorm2d: channels must be positive, got ", options.channels);
    MODELMIX_REQUIRE(options.eps > 0 && options.momentum >= 0 && options.momentum <= 1, "BatchNorm2d: bad eps ",
                     options.eps, " or momentum ", options.momentum);
  }

  [[nodiscard]] const batch_norm2d_options& options() const { return options_; }

  Var<T> forward_own(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) {
    return normalize(x, tape.parameter(weight), tape.parameter(bias),
                     state(running_mean, running_var, ctx.update_running_stats), ctx.training, ctx);
  }

  static Var<T> forward_mixed(Tape<T>& tape, const Var<T>& x, const mix_inputs<BatchNorm2d>& in,
                              const forward_context<T>& ctx) {
    std::vector<std::pair<Var<T>, Var<T>>> gammas, betas;
    for (std::size_t i = 0; i < in.size(); ++i) {
      gammas.emplace_back(in.bind(tape, i, in.parent(i).weight), in.coeffs[i]);
      betas.emplace_back(in.bind(tape, i, in.parent(i).bias), in.coeffs[i]);
    }
    const Var<T> gamma = ops::combine(gammas), beta = ops::combine(betas);
    BatchNorm2d& host = in.host();
    if (ctx.training || in.options.bn_stats == bn_stats_policy::host || in.options.bn_stats == bn_stats_policy::batch)
      return normalize(x, gamma, beta, host.state(host.running_mean, host.running_var, false),
                       ctx.training || in.options.bn_stats == bn_stats_policy::batch, ctx);
    if (in.options.bn_stats == bn_stats_policy::partner) {
      MODELMIX_REQUIRE(in.size() >= 2, "BatchNorm2d: bn_stats_policy::partner needs a second parent");
      BatchNorm2d& partner = in.parent(1);
      return normalize(x, gamma, beta, host.state(partner.running_mean, partner.running_var, false), false, ctx);
    }
    // interpolate: Σ c_i·stats_i at the coefficients' current values (statistics get no gradient),
    // formed where the statistics live (ops::combine_values: host loop or device kernel)
    std::vector<std::pair<const Tensor<T>*, T>> means, vars;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const T c = in.coeffs[i].value()[0];
      means.emplace_back(&in.parent(i).running_mean, c);
      vars.emplace_back(&in.parent(i).running_var, c);
    }
    Tensor<T> mean = ops::combine_values(means), var = ops::combine_values(vars);
    return normalize(x, gamma, beta, host.state(mean, var, false), false, ctx);
  }

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    f(join_path(prefix, "weight"), weight);
    f(join_path(prefix, "bias"), bias);
  }
  template <class F>
  void visit_buffers(const std::string& prefix, F&& f) {
    f(join_path(prefix, "running_mean"), running_mean);
    f(join_path(prefix, "running_var"), running_var);
  }

 private:
  static Var<T> normalize(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta,
                          const ops::batch_norm_state<T>& s, bool batch_statistics, const forward_context<T>& ctx) {
    return ctx.relu_after_batch_norm ? ops::batch_norm2d_relu(x, gamma, beta, s, batch_statistics)
                                     : ops::batch_norm2d(x, gamma, beta, s, batch_statistics);
  }
  ops::batch_norm_state<T> state(Tensor<T>& mean, Tensor<T>& var, bool update) const {
    return {mean, var, T(options_.momentum), T(options_.eps), update};
  }

  batch_norm2d_options options_;
};

}  // namespace modelmix::layers
