#pragma once
// Cosine consistency terms of ModelMix (docs/METHOD.md steps 3 and 4).
//
//   a, b [N, C, H, W] (any rank ≥ 2: everything after the class axis is one vector)
//   cos[n,c] = ⟨a[n,c], b[n,c]⟩ / max(‖a[n,c]‖·‖b[n,c]‖, eps)        (torch cosine_similarity, eps 1e-8)
//
//   cosine_consistency(a, b) = 1 − mean_{n,c} cos[n,c]    mix consistency L_mc (step 3)
//   cosine_invariance(a, b)  =   − mean_{n,c} cos[n,c]    unsupervised vicinal risk L_inv (step 4)
//
// Gradient of one cosine (G = N·C terms in the mean, applied with −1/G):
//   ‖a‖‖b‖ > eps:  ∂cos/∂a = b / (‖a‖‖b‖) − cos · a / ‖a‖²     (symmetrically for b)
//   otherwise:     ∂cos/∂a = b / eps                             (the clamp is a constant)
#include <algorithm>
#include <cmath>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/core/error.hpp"

namespace modelmix::losses {

namespace detail {

// offset − mean_{n,c} cos(a[n,c], b[n,c]), one tape op.
template <class T>
Var<T> offset_mean_cosine(const char* op, const Var<T>& a, const Var<T>& b, double offset, double eps) {
  Tape<T>& tape = autograd::common_tape(op, {a, b});
  const Tensor<T>& av = a.value();
  const Tensor<T>& bv = b.value();
  MODELMIX_REQUIRE(av.rank() >= 2, op, ": inputs must be [N, C, ...]; got shape ", av.shape());
  MODELMIX_REQUIRE(av.shape() == bv.shape(), op, ": shapes ", av.shape(), " and ", bv.shape(), " differ");
  MODELMIX_REQUIRE(eps > 0, op, ": eps must be positive; got ", eps);
  const index_t groups = av.dim(0) * av.dim(1);
  MODELMIX_REQUIRE(groups > 0, op, ": empty batch or class axis in shape ", av.shape());
  const index_t len = av.numel() / groups;

  // Per group: ‖a‖², ‖b‖², cos; backward needs all three.
  std::vector<double> aa(static_cast<std::size_t>(groups)), bb(aa.size()), cosine(aa.size());
  double total = 0;
#pragma omp parallel for reduction(+ : total)
  for (index_t g = 0; g < groups; ++g) {
    const T* x = av.data() + g * len;
    const T* y = bv.data() + g * len;
    double dot = 0, xx = 0, yy = 0;
    for (index_t i = 0; i < len; ++i) {
      dot += double(x[i]) * double(y[i]);
      xx += double(x[i]) * double(x[i]);
      yy += double(y[i]) * double(y[i]);
    }
    const std::size_t k = static_cast<std::size_t>(g);
    aa[k] = xx;
    bb[k] = yy;
    cosine[k] = dot / std::max(std::sqrt(xx * yy), eps);
    total += cosine[k];
  }
  const double loss = offset - total / double(groups);

  return tape.record(op, Tensor<T>(Shape{1}, T(loss)), {a, b},
                     [&tape, a, b, eps, groups, len, aa = std::move(aa), bb = std::move(bb),
                      cosine = std::move(cosine)](const Tensor<T>& g) {
                       const double scale = -double(g[0]) / double(groups);
                       const Tensor<T>& av = a.value();
                       const Tensor<T>& bv = b.value();
                       Tensor<T>* ga = tape.grad_slot(a);
                       Tensor<T>* gb = tape.grad_slot(b);
#pragma omp parallel for
                       for (index_t k = 0; k < groups; ++k) {
                         const std::size_t s = static_cast<std::size_t>(k);
                         const double norm = std::sqrt(aa[s] * bb[s]);
                         const bool clamped = !(norm > eps);
                         const double inv = clamped ? 1.0 / eps : 1.0 / norm;
                         // ∂cos/∂a = inv·b − ca·a, ∂cos/∂b = inv·a − cb·b
                         const double ca = clamped ? 0.0 : cosine[s] / aa[s];
                         const double cb = clamped ? 0.0 : cosine[s] / bb[s];
                         const T* x = av.data() + k * len;
                         const T* y = bv.data() + k * len;
                         if (ga) {
                           T* out = ga->data() + k * len;
                           for (index_t i = 0; i < len; ++i) out[i] += T(scale * (inv * double(y[i]) - ca * double(x[i])));
                         }
                         if (gb) {
                           T* out = gb->data() + k * len;
                           for (index_t i = 0; i < len; ++i) out[i] += T(scale * (inv * double(x[i]) - cb * double(y[i])));
                         }
                       }
                     });
}

}  // namespace detail

template <class T>
[[nodiscard]] Var<T> cosine_consistency(const Var<T>& a, const Var<T>& b, double eps = 1e-8) {
  return detail::offset_mean_cosine("cosine_consistency", a, b, 1.0, eps);
}

template <class T>
[[nodiscard]] Var<T> cosine_invariance(const Var<T>& a, const Var<T>& b, double eps = 1e-8) {
  return detail::offset_mean_cosine("cosine_invariance", a, b, 0.0, eps);
}

}  // namespace modelmix::losses
