#pragma once
// Network-level mixing without copying.
//
//   auto v = mix_networks(net_a, λ, net_b, select::path("encoder.block1.conv1"));
//   auto s = mix_networks<Net>({{a, .2}, {b, .3}, {c, .5}}, select::all());      // N-way
//   Var<float> y = v.forward(tape, x, ctx);
//
// The view walks the networks side by side (zip_visit: same paths, types and shapes), binds
// every selected Mixable leaf of the host (parent 0) to a MixedLayer over the corresponding
// leaves of all parents, and runs the host's own forward with ctx.mixing pointing at those
// bindings. Unselected layers are the host's own. Nothing is copied: the view keeps pointers,
// so the networks must not move or be destroyed while it (or a tape it recorded on) is in use.
//
// forward replaces any ctx.mixing the caller set (views do not nest).
// One coefficient per parent network, shared by all mixed layers of the view; with
// mix_options::learnable_coefficient they are Parameters visited as coeff.0, coeff.1, ...
#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "modelmix/layers/concepts.hpp"
#include "modelmix/layers/mix_bindings.hpp"
#include "modelmix/layers/mixed_layer.hpp"
#include "modelmix/layers/select.hpp"
#include "modelmix/layers/traversal.hpp"
#include "modelmix/layers/zip_visit.hpp"

namespace modelmix::layers {

// Paths of the Mixable leaves of `net`, in traversal order.
template <class Net>
[[nodiscard]] std::vector<std::string> mixable_paths(Net& net) {
  std::vector<std::string> out;
  for_each_layer(net, [&](const std::string& path, auto& leaf) {
    if constexpr (Mixable<std::remove_reference_t<decltype(leaf)>>) out.push_back(path);
  });
  return out;
}

template <Network Net>
class MixedNetwork {
 public:
  using value_type = typename Net::value_type;
  using T = value_type;

  MixedNetwork(const std::vector<mix_parent<Net>>& parents, const select::selector& selector,
               const mix_options& options = {}) {
    MODELMIX_REQUIRE(!parents.empty(), "mix_networks: no networks given");
    std::vector<Net*> nets;
    std::vector<double> values;
    for (const auto& p : parents) {
      nets.push_back(&p.target);
      values.push_back(p.coeff);
    }
    host_ = nets[0];
    parents_ = nets;
    coeffs_ = std::make_shared<mix_coefficients<T>>(values, options);

    const std::vector<std::string> mixable = mixable_paths(*host_);
    const std::vector<std::string> chosen = selector.choose(mixable);
    for (const auto& path : chosen)
      MODELMIX_REQUIRE(std::find(mixable.begin(), mixable.end(), path) != mixable.end(), "mix_networks: selector ",
                       selector.description, " chose \"", path, "\", which is not a mixable layer");

    zip_visit(std::span<Net* const>(nets), [&](const std::string& path, auto group) {
      using L = std::remove_pointer_t<typename decltype(group)::value_type>;
      if constexpr (Mixable<L>) {
        if (std::find(chosen.begin(), chosen.end(), path) != chosen.end())
          bindings_.bind(MixedLayer<L>(std::vector<L*>(group.begin(), group.end()), coeffs_, options, path));
      }
    });
  }

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) {
    forward_context<T> mixed_ctx = ctx;
    mixed_ctx.mixing = &bindings_;
    return host_->forward(tape, x, mixed_ctx);
  }

  // The learnable coefficients (nothing when they are fixed).
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    coeffs_->visit_parameters(join_path(prefix, "coeff"), f);
  }

  // Which layers are mixed (traversal order), e.g. the one select::random_one drew.
  [[nodiscard]] const std::vector<std::string>& mixed_paths() const { return bindings_.paths(); }
  [[nodiscard]] Net& host() const { return *host_; }
  [[nodiscard]] std::span<Net* const> parents() const { return parents_; }
  [[nodiscard]] mix_coefficients<T>& coefficients() const { return *coeffs_; }
  [[nodiscard]] const mix_bindings<T>& bindings() const { return bindings_; }

 private:
  Net* host_ = nullptr;
  std::vector<Net*> parents_;
  std::shared_ptr<mix_coefficients<T>> coeffs_;
  mix_bindings<T> bindings_;
};

template <Network Net>
[[nodiscard]] MixedNetwork<Net> mix_networks(Net& a, double alpha, Net& b, const select::selector& selector,
                                             const mix_options& options = {}) {
  const auto c = two_way_coefficients(alpha, options);
  return MixedNetwork<Net>({{a, c[0]}, {b, c[1]}}, selector, options);
}

template <Network Net>
[[nodiscard]] MixedNetwork<Net> mix_networks(std::initializer_list<mix_parent<Net>> parents,
                                             const select::selector& selector, const mix_options& options = {}) {
  return MixedNetwork<Net>(std::vector<mix_parent<Net>>(parents), selector, options);
}

template <Network Net>
[[nodiscard]] MixedNetwork<Net> mix_networks(const std::vector<mix_parent<Net>>& parents,
                                             const select::selector& selector, const mix_options& options = {}) {
  return MixedNetwork<Net>(parents, selector, options);
}

}  // namespace modelmix::layers
