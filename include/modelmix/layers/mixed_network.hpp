#pragma once
// Network-level mixing without copying.
//
//   auto v = mix_networks(net_a, λ, net_b, select::path("encoder.block1.conv1"));
//   auto s = mix_networks<Net>({{a, .2}, {b, .3}, {c, .5}}, select::all());      // N-way
//   Var<float> y = v.forward(tape, x, ctx);
//
// A mixing::plan (mixing/plan.hpp) pointed once: it walks the networks side by side (zip_visit: same
// paths, types and shapes), binds every selected Mixable leaf of the host (parent 0) to a
// MixedLayer over the corresponding leaves of all parents, and runs the host's own forward
// with ctx.mixing pointing at those bindings. A training loop that mixes a different layer or
// λ every step keeps one mixing::plan and re-points it instead. Unselected layers are the host's own. Nothing is copied: the view keeps pointers,
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
#include "modelmix/mixing/plan.hpp"

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
               const mix_options& options = {})
      : plan_(make_plan(parents, selector, options)) {}

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) { return plan_.forward(tape, x, ctx); }

  // The learnable coefficients (nothing when they are fixed).
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    plan_.coefficients().visit_parameters(join_path(prefix, "coeff"), f);
  }

  // Which layers are mixed (traversal order), e.g. the one select::random_one drew.
  [[nodiscard]] const std::vector<std::string>& mixed_paths() const { return plan_.mixed_paths(); }
  [[nodiscard]] Net& host() const { return plan_.host(); }
  [[nodiscard]] std::span<Net* const> parents() const { return plan_.parents(); }
  [[nodiscard]] mix_coefficients<T>& coefficients() const { return plan_.coefficients(); }
  [[nodiscard]] const mix_bindings<T>& bindings() const { return plan_.bindings(); }

 private:
  // A plan whose candidates are exactly the selected layers, pointed at them once.
  static mixing::plan<Net> make_plan(const std::vector<mix_parent<Net>>& parents, const select::selector& selector,
                                  const mix_options& options) {
    MODELMIX_REQUIRE(!parents.empty(), "mix_networks: no networks given");
    std::vector<Net*> nets;
    std::vector<double> values;
    for (const auto& p : parents) {
      nets.push_back(&p.target);
      values.push_back(p.coeff);
    }
    check_mix_coefficients(values, options);
    const std::vector<std::string> mixable = mixable_paths(*nets[0]);
    std::vector<std::string> chosen = selector.choose(mixable);
    for (const auto& path : chosen)
      MODELMIX_REQUIRE(std::find(mixable.begin(), mixable.end(), path) != mixable.end(), "mix_networks: selector ",
                       selector.description, " chose \"", path, "\", which is not a mixable layer");
    // Bound in traversal order, as the selectors' documentation promises.
    std::vector<std::string> ordered;
    for (const auto& path : mixable)
      if (std::find(chosen.begin(), chosen.end(), path) != chosen.end()) ordered.push_back(path);
    mixing::plan<Net> plan(std::move(nets), ordered, options, values);
    plan.point(values, ordered);
    return plan;
  }

  mixing::plan<Net> plan_;
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
