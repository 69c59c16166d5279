#pragma once
// Network-level mixing without copying: a table from a host layer's address to the mixed view
// that replaces its computation.
//
// A network is run with forward_context::mixing pointing at the table; every Mixable layer's
// forward first asks `bound_mix(ctx, this)` and, when it is bound, returns the view's forward
// (MixedLayer<L>::forward → L::forward_mixed, exactly what a layer-level mix runs). Layers that
// are not bound run as usual, so the rest of the network is the host's own.
// Filled by mixing::plan (mixing/plan.hpp, behind mix_networks); keyed by address, so the host network must
// not move while the table is in use.
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "modelmix/layers/mixed_layer.hpp"

namespace modelmix::layers {

template <class T>
class mix_bindings {
 public:
  struct binding {
    virtual ~binding() = default;
    virtual Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) const = 0;
  };

  // A binding that routes `view.host()`'s forward through `view` (owned by the caller).
  template <class L>
  [[nodiscard]] static std::unique_ptr<binding> make(MixedLayer<L> view) {
    return std::make_unique<bound<L>>(std::move(view));
  }

  // Route the forward of the layer at `key` through `b`, which the caller keeps alive
  // (mixing::plan re-points a table at views it built once).
  void activate(const void* key, const binding& b, std::string path) {
    MODELMIX_REQUIRE(!table_.contains(key), "mix_bindings: layer ", path, " is bound twice");
    paths_.push_back(std::move(path));
    table_.emplace(key, &b);
  }
  // Unbind every layer.
  void clear() {
    table_.clear();
    paths_.clear();
  }

  [[nodiscard]] const binding* find(const void* layer) const {
    auto it = table_.find(layer);
    return it == table_.end() ? nullptr : it->second;
  }
  // Paths of the bound layers in the order they were bound.
  [[nodiscard]] const std::vector<std::string>& paths() const { return paths_; }
  [[nodiscard]] std::size_t size() const { return table_.size(); }

 private:
  template <class L>
  struct bound final : binding {
    explicit bound(MixedLayer<L> v) : view(std::move(v)) {}
    Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) const override {
      return view.forward(tape, x, ctx);
    }
    MixedLayer<L> view;
  };

  std::unordered_map<const void*, const binding*> table_;
  std::vector<std::string> paths_;
};

// The view bound to `layer` in ctx.mixing, or nullptr.
template <class T>
[[nodiscard]] const typename mix_bindings<T>::binding* bound_mix(const forward_context<T>& ctx, const void* layer) {
  return ctx.mixing ? ctx.mixing->find(layer) : nullptr;
}

}  // namespace modelmix::layers
