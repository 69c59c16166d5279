#pragma once
// A mixed layer as a view: θ = Σ_i c_i·θ_i over parents of one type (parent 0 is the host).
//
//   auto v = a.mix(0.3, b);                                  // θ = 0.3·θa + 0.7·θb
//   auto s = layers::mix<Conv2d<float>>({{a, .2}, {b, .3}, {c, .5}});   // N-way (a model soup)
//   Var<float> y = v.forward(tape, x, ctx);
//
// The view holds pointers to its parents and the coefficients; it owns no copy of their
// parameters (only the coefficients, which are Parameters when learnable), and the parents
// must outlive it and every tape it records on. Its forward calls L::forward_mixed, the same
// code a layer runs when a network-level mix binds it (layers/mix_bindings.hpp): the parent
// parameters enter the op as a mix spec (one fused conv2d, or ops::combine for small vectors),
// bound trainable or constant per mix_options::gradients.
//
// Parents are checked at construction: the same parameter names and shapes (errors name the
// parameter path and both shapes), and the same layer configuration where the layer says so
// (check_mixable_with, e.g. conv stride and padding).
#include <algorithm>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "modelmix/layers/concepts.hpp"
#include "modelmix/layers/mix_options.hpp"

namespace modelmix::layers {

// One parent of an N-way mix with its coefficient; also used for networks (mix_networks).
template <class L>
struct mix_parent {
  L& target;
  double coeff;
};

// What a Mixable layer's forward_mixed reads.
template <class L>
struct mix_inputs {
  using T = typename L::value_type;
  std::span<L* const> parents;  // host first
  std::vector<Var<T>> coeffs;   // c_i as [1] Vars on the tape (trainable when learnable)
  const mix_options& options;

  [[nodiscard]] std::size_t size() const { return parents.size(); }
  [[nodiscard]] L& host() const { return *parents[0]; }
  [[nodiscard]] L& parent(std::size_t i) const { return *parents[i]; }
  // Parent i's parameter as the gradient policy wants it: trainable (c_i·g accumulates into
  // p.grad) or a constant that no gradient reaches.
  [[nodiscard]] Var<T> bind(Tape<T>& tape, std::size_t i, Parameter<T>& p) const {
    const bool trainable = options.gradients == gradient_policy::both ||
                           (options.gradients == gradient_policy::host_only && i == 0);
    return trainable ? tape.parameter(p) : tape.constant_ref(p.value);
  }
};

namespace detail {
struct parameter_signature {
  std::string name;
  Shape shape;
};
template <class L>
std::vector<parameter_signature> parameter_signatures(L& layer, const std::string& path) {
  std::vector<parameter_signature> out;
  layer.visit_parameters(path, [&](const std::string& name, Parameter<typename L::value_type>& p) {
    out.push_back({name, p.shape()});
  });
  return out;
}
}  // namespace detail

// Throws unless `other` can be mixed into `host`: same parameter names and shapes, same
// configuration. `path` names the layer in messages ("" when unknown).
template <class L>
void check_mix_partner(L& host, L& other, const std::string& path) {
  const auto a = detail::parameter_signatures(host, path);
  const auto b = detail::parameter_signatures(other, path);
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    MODELMIX_REQUIRE(a[i].name == b[i].name, "mix: parameter ", a[i].name, " vs ", b[i].name,
                     " (the layers are configured differently)");
    MODELMIX_REQUIRE(a[i].shape == b[i].shape, "mix: ", a[i].name, " ", a[i].shape, " vs ", b[i].shape);
  }
  MODELMIX_REQUIRE(a.size() == b.size(), "mix: ", path.empty() ? std::string("layer") : path, " has ", a.size(),
                   " parameters in one parent and ", b.size(), " in the other (e.g. bias on/off)");
  if constexpr (requires { host.check_mixable_with(other, path); }) host.check_mixable_with(other, path);
}

template <class L>
class MixedLayer {
 public:
  using value_type = typename L::value_type;
  using T = value_type;

  // Own coefficients (a layer-level mix).
  MixedLayer(const std::vector<mix_parent<L>>& parents, const mix_options& options = {}, std::string path = {})
      : options_(options), path_(std::move(path)) {
    std::vector<double> values;
    for (const auto& p : parents) {
      parents_.push_back(&p.target);
      values.push_back(p.coeff);
    }
    coeffs_ = std::make_shared<mix_coefficients<T>>(values, options);
    check();
  }
  // Coefficients shared with other views (a network-level mix: one c_i per parent network).
  MixedLayer(std::vector<L*> parents, std::shared_ptr<mix_coefficients<T>> coeffs, const mix_options& options,
             std::string path = {})
      : parents_(std::move(parents)), coeffs_(std::move(coeffs)), options_(options), path_(std::move(path)) {
    MODELMIX_REQUIRE(coeffs_ && coeffs_->size() == parents_.size(), "mix: ", parents_.size(), " parents but ",
                     coeffs_ ? coeffs_->size() : 0, " coefficients");
    check();
  }

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) const {
    std::vector<Var<T>> c;
    c.reserve(parents_.size());
    for (std::size_t i = 0; i < parents_.size(); ++i) c.push_back(coeffs_->bind(tape, i));
    return L::forward_mixed(tape, x, mix_inputs<L>{parents_, std::move(c), options_}, ctx);
  }

  // Only what the view owns: the learnable coefficients, named coeff.0, coeff.1, ...
  // The parents' parameters are visited through the parents.
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    coeffs_->visit_parameters(join_path(prefix, "coeff"), f);
  }

  [[nodiscard]] std::span<L* const> parents() const { return parents_; }
  [[nodiscard]] L& host() const { return *parents_[0]; }
  [[nodiscard]] mix_coefficients<T>& coefficients() const { return *coeffs_; }
  [[nodiscard]] const mix_options& options() const { return options_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  void check() {
    MODELMIX_REQUIRE(!parents_.empty(), "mix: no parents given");
    for (std::size_t i = 1; i < parents_.size(); ++i) check_mix_partner(*parents_[0], *parents_[i], path_);
  }

  std::vector<L*> parents_;
  std::shared_ptr<mix_coefficients<T>> coeffs_;
  mix_options options_;
  std::string path_;
};

// N-way mix of layers: mix<Conv2d<float>>({{a, .2}, {b, .3}, {c, .5}}), or with the first
// term typed, mix({mix_parent{a, .2}, {b, .3}, {c, .5}}). Constrained to Mixable layers, so
// it never captures unrelated calls by argument-dependent lookup.
template <Mixable L>
[[nodiscard]] MixedLayer<L> mix(std::initializer_list<mix_parent<L>> parents, const mix_options& options = {}) {
  return MixedLayer<L>(std::vector<mix_parent<L>>(parents), options);
}
template <Mixable L>
[[nodiscard]] MixedLayer<L> mix(const std::vector<mix_parent<L>>& parents, const mix_options& options = {}) {
  return MixedLayer<L>(parents, options);
}

}  // namespace modelmix::layers
