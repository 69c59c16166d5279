#pragma once
// The mix spec: how a parametric op receives its parameters.
//
//   W = Σ_i c_i · W_i        b = Σ_i c_i · b_i
//
// One term is a plain layer, two terms are ModelMix, N terms a model soup. Kernels read the
// parents and combine them where they load the filter; nothing else ever holds W.
// Backward gives parent i the gradient c_i · g, and a learnable coefficient gets
//   ∂L/∂c_i = ⟨g_W, W_i⟩ + ⟨g_b, b_i⟩.
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/config.hpp"
#include "modelmix/core/shape.hpp"

namespace modelmix::ops {

// The lerp every backend uses when it forms a mixed value (host and device).
template <class T>
MODELMIX_HOST_DEVICE inline T mix_accumulate(T acc, T coeff, T parent) {
  return acc + coeff * parent;
}

// Backend-facing term: raw pointers, so the same spec drives CPU loops and CUDA kernels.
// `bias` may be null (no bias). Gradient pointers are null where no gradient is wanted
// (e.g. gradient policy `none`, or a constant coefficient); non-null ones are accumulated into.
template <class T>
struct mix_term {
  const T* weight = nullptr;
  const T* bias = nullptr;
  T coeff = T(1);
  T* grad_weight = nullptr;
  T* grad_bias = nullptr;
  T* grad_coeff = nullptr;
};

template <class T>
struct mix_spec {
  std::vector<mix_term<T>> terms;
  index_t weight_numel = 0;  // elements of each W_i
  index_t bias_numel = 0;    // elements of each b_i (0 = no bias)

  [[nodiscard]] bool has_bias() const { return bias_numel > 0; }
  // A single term with coefficient 1 is a plain layer: backends may read W_0 directly.
  [[nodiscard]] bool is_plain() const { return terms.size() == 1 && terms[0].coeff == T(1); }
  [[nodiscard]] bool wants_weight_grad() const {
    for (const auto& t : terms)
      if (t.grad_weight || t.grad_coeff) return true;
    return false;
  }
};

// Autograd-facing term: one parent's parameters and its coefficient, all as Vars on one tape.
// The coefficient is a [1] tensor: a constant for a fixed λ, a Parameter when learnable.
template <class T>
struct mix_operand {
  Var<T> weight;
  Var<T> bias;  // may be empty (valid() == false) when the layer has no bias
  Var<T> coeff;
};

}  // namespace modelmix::ops
