#pragma once
// Dropout as a layer (inverted dropout, ops/dropout.hpp), active only when ctx.training.
//
// The mask is a pure function of (ctx.seed, the layer's stream id, element index): no RNG
// state, so the same seed gives the same mask in every run, and a mixed forward of a network
// drops the same units as a plain one. Give every Dropout of a network its own stream — set
// dropout_options::stream, or call name_dropout_streams(net) once after building it, which
// derives each stream from the layer's path — or layers with equal shapes drop equal units.
#include "modelmix/core/hash.hpp"
#include <cstdint>
#include <string>

#include "modelmix/layers/forward_context.hpp"
#include "modelmix/layers/traversal.hpp"
#include "modelmix/ops/dropout.hpp"

namespace modelmix::layers {

struct dropout_options {
  double p = 0.5;
  std::uint64_t stream = 0;
};

namespace detail {
using modelmix::splitmix64;  // core/hash.hpp
// FNV-1a: a stable hash of a path, the same on every platform and run.
inline std::uint64_t path_hash(const std::string& path) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : path) h = (h ^ ch) * 0x100000001b3ULL;
  return h;
}
}  // namespace detail

template <class T>
class Dropout {
 public:
  using value_type = T;
  explicit Dropout(const dropout_options& options = {}) : options_(options) {
    MODELMIX_REQUIRE(options.p >= 0 && options.p < 1, "Dropout: p must be in [0, 1), got ", options.p);
  }

  Var<T> forward(Tape<T>&, const Var<T>& x, const forward_context<T>& ctx) {
    return ops::dropout(x, T(options_.p), mask_seed(ctx.seed), ctx.training);
  }
  template <class F>
  void visit_parameters(const std::string&, F&&) {}

  // The seed handed to ops::dropout: the step's seed and this layer's stream, decorrelated.
  [[nodiscard]] std::uint64_t mask_seed(std::uint64_t step_seed) const {
    return detail::splitmix64(step_seed ^ detail::splitmix64(options_.stream));
  }
  [[nodiscard]] const dropout_options& options() const { return options_; }
  void set_stream(std::uint64_t stream) { options_.stream = stream; }

 private:
  dropout_options options_;
};

// Stream of every Dropout in `net` := hash of its path.
template <class Net>
void name_dropout_streams(Net& net) {
  for_each_layer(net, [](const std::string& path, auto& leaf) {
    if constexpr (requires { leaf.set_stream(std::uint64_t{}); }) leaf.set_stream(detail::path_hash(path));
  });
}

}  // namespace modelmix::layers
