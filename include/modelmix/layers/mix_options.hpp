#pragma once
// How a mixed layer combines its parents  θ = Σ_i c_i·θ_i  (parent 0 is the host).
//
//   gradient_policy   both:      parent i receives c_i·g (the paper's formulation; default)
//                     host_only: only parent 0 receives c_0·g, the partners are read as constants
//                     none:      no parent receives a gradient. The input still gets its
//                                gradient, so the layers below keep learning. (The original
//                                PyTorch code detaches more: its virtual model is a deep copy
//                                whose every layer is cut off; method::trainer_options::
//                                detach_virtual_model reproduces that.)
//   bn_stats_policy   which statistics a mixed BatchNorm2d normalises with in evaluation:
//                     host's, partner's (parent 1), Σ c_i·stats_i, or batch: recomputed on the
//                     data being normalised (the mixed layer's activations differ from every
//                     parent's, so no parent's statistics fit it exactly; evaluate whole batches
//                     of a volume for this). They are never mixed silently, and a mixed forward
//                     never updates any parent's statistics.
//   learnable_coefficient
//                     each c_i becomes its own Parameter<T> of shape [1], initialised to the
//                     given value and receiving ∂L/∂c_i = ⟨g_θ, θ_i⟩. The c_i are independent
//                     (a 2-way mix learns λ and 1−λ as two numbers), so after training they need
//                     not sum to 1; constrain them in the optimizer step if that matters.
//   allow_extrapolation
//                     coefficients must be ≥ 0 and sum to 1 (tolerance 1e-6; for a 2-way mix
//                     α ∈ [0, 1]) unless this is set.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/error.hpp"

namespace modelmix::layers {

enum class gradient_policy { both, host_only, none };
enum class bn_stats_policy { host, partner, interpolate, batch };

struct mix_options {
  gradient_policy gradients = gradient_policy::both;
  bn_stats_policy bn_stats = bn_stats_policy::host;
  bool learnable_coefficient = false;
  bool allow_extrapolation = false;
};

// "a.b" from ("a", "b"); "b" from ("", "b").
inline std::string join_path(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Throws unless the coefficients are finite and (without allow_extrapolation) convex.
inline void check_mix_coefficients(const std::vector<double>& values, const mix_options& options) {
  MODELMIX_REQUIRE(!values.empty(), "mix: no parents given");
  std::string list;
  double total = 0;
  bool convex = true, finite = true;
  for (double c : values) {
    list += (list.empty() ? "" : ", ") + cat(c);
    total += c;
    convex = convex && c >= 0;
    finite = finite && std::isfinite(c);
  }
  MODELMIX_REQUIRE(finite, "mix: coefficients must be finite, got (", list, ")");
  MODELMIX_REQUIRE(options.allow_extrapolation || (convex && std::abs(total - 1.0) <= 1e-6),
                   "mix: coefficients must be >= 0 and sum to 1, got (", list,
                   "); set mix_options::allow_extrapolation for a non-convex combination");
}

// The 2-way form: c = (alpha, 1 - alpha).
inline std::vector<double> two_way_coefficients(double alpha, const mix_options& options) {
  MODELMIX_REQUIRE(options.allow_extrapolation || (alpha >= 0 && alpha <= 1), "mix: alpha = ", alpha,
                   " is outside [0, 1]; set mix_options::allow_extrapolation to extrapolate");
  return {alpha, 1.0 - alpha};
}

// The coefficients c_i of one mix, stored as [1] Parameters so that a learnable one binds with
// tape.parameter and a fixed one with tape.constant_ref — the ops see a Var either way.
// Shared (by pointer) between all layers of a network-level mix, so one λ per parent network.
template <class T>
class mix_coefficients {
 public:
  mix_coefficients(const std::vector<double>& values, const mix_options& options) : learnable_(options.learnable_coefficient) {
    check_mix_coefficients(values, options);
    coeffs_.reserve(values.size());
    for (double c : values) coeffs_.emplace_back(Tensor<T>(Shape{1}, T(c)));
  }

  [[nodiscard]] std::size_t size() const { return coeffs_.size(); }
  // New values for every coefficient (checked like the first ones); views bound to these
  // coefficients read them at their next forward.
  void assign(const std::vector<double>& values, const mix_options& options) {
    MODELMIX_REQUIRE(values.size() == coeffs_.size(), "mix: ", values.size(), " coefficients for ", coeffs_.size(),
                     " parents");
    check_mix_coefficients(values, options);
    for (std::size_t i = 0; i < values.size(); ++i) coeffs_[i].value[0] = T(values[i]);
  }
  [[nodiscard]] bool learnable() const { return learnable_; }
  [[nodiscard]] T value(std::size_t i) const { return coeffs_[i].value[0]; }
  [[nodiscard]] Parameter<T>& parameter(std::size_t i) { return coeffs_[i]; }

  [[nodiscard]] Var<T> bind(Tape<T>& tape, std::size_t i) {
    // A fixed coefficient is copied onto the tape (one number), so a temporary view — e.g. the
    // virtual model of one training step — may end before the tape's backward runs.
    return learnable_ ? tape.parameter(coeffs_[i]) : tape.constant(coeffs_[i].value);
  }
  // Learnable coefficients only, named prefix.0, prefix.1, ... (parent order).
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    if (!learnable_) return;
    for (std::size_t i = 0; i < coeffs_.size(); ++i) f(join_path(prefix, std::to_string(i)), coeffs_[i]);
  }

 private:
  bool learnable_;
  std::vector<Parameter<T>> coeffs_;  // never resized after construction: optimizers hold pointers
};

}  // namespace modelmix::layers
