#pragma once
// Sequential<T, Layers...>: children applied in order, y = L_{n−1}(… L_1(L_0(x))).
// Children are held by value in a std::tuple (compile-time heterogeneous, no virtual calls)
// and named "0", "1", ... as in PyTorch's nn.Sequential, so parameters are "0.weight", ...
//
//   Sequential net{Conv2d<float>(conv2d_options{1, 8, 3, 1, 1}, rng), ReLU<float>{}};
//   net.get<0>().weight ...
//
// Children may themselves be containers (nested Sequentials or user structs). Build it with
// braces when the children draw from one init_rng: list-initialisation evaluates left to
// right, so the weights do not depend on the compiler's argument order.
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>

#include "modelmix/layers/concepts.hpp"
#include "modelmix/layers/traversal.hpp"

namespace modelmix::layers {

template <class T, class... Layers>
class Sequential {
  static_assert(sizeof...(Layers) > 0, "Sequential needs at least one layer");
  static_assert((std::is_same_v<typename Layers::value_type, T> && ...),
                "Sequential: every child must have the same value_type");

 public:
  using value_type = T;

  explicit Sequential(Layers... layers) : layers_(std::move(layers)...) {}

  template <std::size_t I>
  [[nodiscard]] auto& get() { return std::get<I>(layers_); }
  template <std::size_t I>
  [[nodiscard]] const auto& get() const { return std::get<I>(layers_); }
  static constexpr std::size_t size() { return sizeof...(Layers); }

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) {
    Var<T> h = x;
    std::apply([&](auto&... layer) { ((h = layer.forward(tape, h, ctx)), ...); }, layers_);
    return h;
  }

  template <class F>
  void visit_layers(const std::string& prefix, F&& f) {
    visit_children(prefix, f, std::index_sequence_for<Layers...>{});
  }
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    for_each_parameter(*this, f, prefix);
  }
  template <class F>
  void visit_buffers(const std::string& prefix, F&& f) {
    for_each_buffer(*this, f, prefix);
  }

 private:
  template <class F, std::size_t... I>
  void visit_children(const std::string& prefix, F& f, std::index_sequence<I...>) {
    (f(join_path(prefix, std::to_string(I)), std::get<I>(layers_)), ...);
  }

  std::tuple<Layers...> layers_;
};

template <class L0, class... Ls>
Sequential(L0, Ls...) -> Sequential<typename L0::value_type, L0, Ls...>;

}  // namespace modelmix::layers
