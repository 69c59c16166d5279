#pragma once
// The mix spec: how a parametric op receives its parameters. The one home of the
// combination every backend performs:
//
//   W = Σ_i c_i · W_i        b = Σ_i c_i · b_i
//
// One term is a plain layer, two terms are ModelMix, N terms a model soup. Kernels read the
// parents and combine them where they load the filter; nothing else ever holds W.
// Backward gives parent i the gradient c_i · g, and a learnable coefficient gets
//   ∂L/∂c_i = ⟨g_W, W_i⟩ + ⟨g_b, b_i⟩.
//
//   spec<T>              host-side, any number of terms (CPU loops, the reference oracle)
//   kernel_spec<T, Max>  plain data with a fixed capacity, passed by value to CUDA kernels;
//                        built from a spec by to_kernel_spec (which refuses more than Max terms)
//   weighted_sum         out[j] = Σ_i c_i·θ_i[j] on the host, in any accumulator type
#include <cstddef>
#include <limits>
#include <vector>

#include "modelmix/core/config.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/core/shape.hpp"

namespace modelmix::mixing {

// The lerp every backend uses when it forms a mixed value (host and device).
template <class T>
MODELMIX_HOST_DEVICE inline T accumulate(T acc, T coeff, T parent) {
  return acc + coeff * parent;
}

// One parent: raw pointers, so the same spec drives CPU loops and CUDA kernels (pointers are
// host or device memory, as the backend expects). `bias` may be null (no bias). Gradient
// pointers are null where no gradient is wanted (gradient policy `none`, a constant
// coefficient); non-null ones are accumulated into (+=).
template <class T>
struct term {
  const T* weight = nullptr;
  const T* bias = nullptr;
  T coeff = T(1);
  T* grad_weight = nullptr;
  T* grad_bias = nullptr;
  T* grad_coeff = nullptr;
};

template <class T>
struct spec {
  std::vector<term<T>> terms;
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
  [[nodiscard]] bool wants_bias_grad() const {
    if (!has_bias()) return false;
    for (const auto& t : terms)
      if (t.grad_bias || t.grad_coeff) return true;
    return false;
  }
};

// out[j] = Σ_i c_i · (terms[i].*parent)[j] for j < n, accumulated in Acc (T for the fast
// paths, double for the reference oracle). One pass per term over `out`, which stays
// cache resident while every parent streams through it.
template <class Acc, class T>
void weighted_sum(Acc* out, index_t n, const spec<T>& s, const T* term<T>::*parent) {
  for (index_t j = 0; j < n; ++j) out[j] = Acc(0);
  for (const term<T>& t : s.terms) {
    const Acc c = Acc(t.coeff);
    const T* p = t.*parent;
    for (index_t j = 0; j < n; ++j) out[j] = accumulate(out[j], c, Acc(p[j]));
  }
}

// Kernel-side spec: fixed capacity, struct of arrays, trivially copyable (a kernel
// parameter). Kernels loop `for (int i = 0; i < Max; ++i) if (i < count)` with the loop
// unrolled, so the arrays are only ever indexed with compile-time indices (a run-time index
// would put them in local memory).
template <class T, int Max = 8>
struct kernel_spec {
  static constexpr int max_terms = Max;
  const T* weight[Max] = {};
  const T* bias[Max] = {};
  T coeff[Max] = {};
  T* grad_weight[Max] = {};
  T* grad_bias[Max] = {};
  T* grad_coeff[Max] = {};
  int count = 0;
  int weight_numel = 0;
  int bias_numel = 0;  // 0 = no bias
};

// Whether a spec fits a kernel_spec<T, Max> (term count, 32-bit sizes).
template <int Max, class T>
[[nodiscard]] bool fits_kernel_spec(const spec<T>& s) {
  return !s.terms.empty() && s.terms.size() <= std::size_t(Max) &&
         s.weight_numel <= std::numeric_limits<int>::max() && s.bias_numel <= std::numeric_limits<int>::max();
}

template <int Max = 8, class T>
[[nodiscard]] kernel_spec<T, Max> to_kernel_spec(const spec<T>& s) {
  MODELMIX_REQUIRE(fits_kernel_spec<Max>(s), "mix spec with ", s.terms.size(), " terms does not fit a kernel spec of ",
                   Max, " terms (or its sizes exceed 32 bits)");
  kernel_spec<T, Max> k;
  k.count = int(s.terms.size());
  k.weight_numel = int(s.weight_numel);
  k.bias_numel = int(s.bias_numel);
  for (int i = 0; i < k.count; ++i) {
    const term<T>& t = s.terms[std::size_t(i)];
    k.weight[i] = t.weight;
    k.bias[i] = t.bias;
    k.coeff[i] = t.coeff;
    k.grad_weight[i] = t.grad_weight;
    k.grad_bias[i] = t.grad_bias;
    k.grad_coeff[i] = t.grad_coeff;
  }
  return k;
}

}  // namespace modelmix::mixing
