#pragma once
// A network-level mix built once and re-pointed every step.
//
//   mixing::plan<UNet<float>> plan({&net_a, &net_b}, layers::mixable_paths(net_a), {.gradients = ...});
//   for each step:
//     plan.point(layers::two_way_coefficients(λ, options), {"encoder.block2.conv1"});
//     Var<float> y = plan.forward(tape, x, ctx);
//
// Construction walks the parent networks side by side once (same paths, types and shapes,
// checked) and builds a mixed view for every candidate layer, all sharing one coefficient
// per parent network. point() then only assigns the coefficients and chooses which views are
// bound (a table of pointers): no traversal, no shape checks and no allocation of views per
// step. forward runs the host's (parent 0's) own forward with ctx.mixing pointing at the
// chosen views, so unchosen layers are the host's own. The plan keeps pointers: the networks
// must not move while it is used (layers::MixedNetwork is a plan pointed once).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "modelmix/layers/concepts.hpp"
#include "modelmix/layers/mix_bindings.hpp"
#include "modelmix/layers/mixed_layer.hpp"
#include "modelmix/layers/traversal.hpp"
#include "modelmix/layers/zip_visit.hpp"

namespace modelmix::mixing {

template <layers::Network Net>
class plan {
 public:
  using value_type = typename Net::value_type;
  using T = value_type;

  // `candidates`: the layers point() may choose (Mixable leaves of the host, by path).
  // `coefficients`: the initial c_i, one per parent (also checked on every point()).
  plan(std::vector<Net*> parents, const std::vector<std::string>& candidates, const layers::mix_options& options,
       const std::vector<double>& coefficients)
      : parents_(std::move(parents)), options_(options) {
    MODELMIX_REQUIRE(!parents_.empty(), "mixing::plan: no networks given");
    MODELMIX_REQUIRE(coefficients.size() == parents_.size(), "mixing::plan: ", coefficients.size(),
                     " coefficients for ", parents_.size(), " networks");
    coeffs_ = std::make_shared<layers::mix_coefficients<T>>(coefficients, options);
    layers::zip_visit(std::span<Net* const>(parents_), [&](const std::string& path, auto group) {
      using L = std::remove_pointer_t<typename decltype(group)::value_type>;
      if constexpr (layers::Mixable<L>) {
        if (std::find(candidates.begin(), candidates.end(), path) == candidates.end()) return;
        auto view = layers::MixedLayer<L>(std::vector<L*>(group.begin(), group.end()), coeffs_, options_, path);
        views_.push_back({&view.host(), path, layers::mix_bindings<T>::make(std::move(view))});
      }
    });
    for (const std::string& path : candidates)
      MODELMIX_REQUIRE(find(path) != nullptr, "mixing::plan: \"", path, "\" is not a mixable layer of the network");
  }

  // Coefficients for this step and the layers they mix (each one of the candidates).
  void point(const std::vector<double>& coefficients, const std::vector<std::string>& paths) {
    coeffs_->assign(coefficients, options_);
    active_.clear();
    for (const std::string& path : paths) {
      const view* v = find(path);
      MODELMIX_REQUIRE(v != nullptr, "mixing::plan: \"", path, "\" is not one of the plan's candidate layers");
      active_.activate(v->key, *v->binding, v->path);
    }
  }

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const layers::forward_context<T>& ctx) {
    layers::forward_context<T> mixed_ctx = ctx;
    mixed_ctx.mixing = &active_;
    return parents_[0]->forward(tape, x, mixed_ctx);
  }

  // Which layers the last point() chose, in the order given.
  [[nodiscard]] const std::vector<std::string>& mixed_paths() const { return active_.paths(); }
  [[nodiscard]] Net& host() const { return *parents_[0]; }
  [[nodiscard]] std::span<Net* const> parents() const { return parents_; }
  [[nodiscard]] layers::mix_coefficients<T>& coefficients() const { return *coeffs_; }
  [[nodiscard]] const layers::mix_bindings<T>& bindings() const { return active_; }
  [[nodiscard]] const layers::mix_options& options() const { return options_; }

 private:
  struct view {
    const void* key;  // the host layer whose forward the view replaces
    std::string path;
    std::unique_ptr<typename layers::mix_bindings<T>::binding> binding;
  };
  [[nodiscard]] const view* find(const std::string& path) const {
    for (const view& v : views_)
      if (v.path == path) return &v;
    return nullptr;
  }

  std::vector<Net*> parents_;
  layers::mix_options options_;
  std::shared_ptr<layers::mix_coefficients<T>> coeffs_;
  std::vector<view> views_;
  layers::mix_bindings<T> active_;
};

}  // namespace modelmix::mixing
