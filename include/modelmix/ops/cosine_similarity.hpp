#pragma once
// Cosine similarity over trailing axes.
//
//   a, b of equal shape [d_0, ..., d_{k−1}, d_k, ..., d_{r−1}], k = first_reduced_axis
//   → y [d_0, ..., d_{k−1}]  (shape [1] when k = 0): one value per "row" u of the flattened
//     trailing axes,
//
//   y_u = a_u·b_u / D_u,   D_u = max(‖a_u‖·‖b_u‖, ε)
//
// e.g. NCHW with k = 2 gives the per-(sample, class) cosine over pixels, shape [N, C].
// ε handling is that of torch.nn.CosineSimilarity and of torch.nn.functional.cosine_similarity
// before PyTorch 1.12: the *product* of the norms is clamped. Newer PyTorch clamps each norm
// separately (max(‖a‖, ε)·max(‖b‖, ε)); the two agree unless a norm is below ε.
//
//   unclamped (‖a‖‖b‖ > ε):  ∂a_u += g_u·(b_u/D_u − y_u·a_u/‖a_u‖²)   (and symmetrically for b)
//   clamped:                 ∂a_u += g_u·b_u/ε                           ∂b_u += g_u·a_u/ε
//
// Dot products and norms are accumulated in double. ε = 0 gives NaN for an all-zero row.
#include <cmath>
#include <vector>

#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> cosine_similarity(const Var<T>& a, const Var<T>& b, int first_reduced_axis,
                         std::type_identity_t<T> eps = T(1e-8)) {
  Tape<T>& tape = autograd::common_tape("cosine_similarity", {a, b});
  detail::require_same_shape("cosine_similarity", a.shape(), b.shape());
  const Shape& s = a.shape();
  const int k = first_reduced_axis;
  MODELMIX_REQUIRE(k >= 0 && k < s.rank(), "cosine_similarity: first_reduced_axis ", k,
                   " is outside [0, ", s.rank(), ") for shape ", s);
  std::vector<index_t> lead(s.dims().begin(), s.dims().begin() + k);
  Shape out_shape = lead.empty() ? Shape{1} : Shape(lead);
  const index_t rows = out_shape.numel(), len = s.stride(k) * s[k];  // len: elements per row

  struct row_stats {
    double y, D, na2, nb2;
    bool clamped;
  };
  std::vector<row_stats> stats(static_cast<std::size_t>(rows));
  Tensor<T> y(out_shape);
  const T *pa = a.value().data(), *pb = b.value().data();
  const double e = double(eps);
#pragma omp parallel for schedule(static) if (s.numel() >= detail::parallel_min_work)
  for (index_t u = 0; u < rows; ++u) {
    const T *ra = pa + u * len, *rb = pb + u * len;
    double dot = 0, na2 = 0, nb2 = 0;
#pragma omp simd reduction(+ : dot, na2, nb2)
    for (index_t i = 0; i < len; ++i) {
      dot += double(ra[i]) * double(rb[i]);
      na2 += double(ra[i]) * double(ra[i]);
      nb2 += double(rb[i]) * double(rb[i]);
    }
    const double norms = std::sqrt(na2) * std::sqrt(nb2);
    const bool clamped = !(norms > e);
    const double D = clamped ? e : norms;
    stats[u] = {dot / D, D, na2, nb2, clamped};
    y[u] = T(dot / D);
  }
  return tape.record("cosine_similarity", std::move(y), {a, b},
                     [&tape, a, b, stats = std::move(stats), rows, len](const Tensor<T>& g) {
                       // ∂self_u += g_u·(other_u/D − [unclamped]·y·self_u/‖self_u‖²)
                       auto backward_into = [&](const Var<T>& self, const Var<T>& other, bool self_is_a) {
                         Tensor<T>* gs = tape.grad_slot(self);
                         if (!gs) return;
                         const T *ps = self.value().data(), *po = other.value().data();
                         T* pd = gs->data();
#pragma omp parallel for schedule(static) if (rows * len >= detail::parallel_min_work)
                         for (index_t u = 0; u < rows; ++u) {
                           const row_stats& r = stats[u];
                           const double n2 = self_is_a ? r.na2 : r.nb2;
                           const T c_other = T(double(g[u]) / r.D);
                           const T c_self = r.clamped ? T(0) : T(-double(g[u]) * r.y / n2);
                           for (index_t i = 0; i < len; ++i)
                             pd[u * len + i] += c_other * po[u * len + i] + c_self * ps[u * len + i];
                         }
                       };
                       backward_into(a, b, true);
                       backward_into(b, a, false);
                     });
}

}  // namespace modelmix::ops
