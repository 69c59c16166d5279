#pragma once
// CPU loops of ops::cosine_similarity (ops/cosine_similarity.hpp).
#include <cmath>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// What backward needs of one row: y = cosine, D = max(‖a‖‖b‖, ε), the squared norms, and
// whether the clamp was active.
struct cosine_row_stats {
  double y, D, na2, nb2;
  bool clamped;
};

// y[u] = a_u·b_u / max(‖a_u‖·‖b_u‖, e) for `rows` rows of len elements, accumulated in double.
template <class T>
void cosine_similarity(const T* pa, const T* pb, T* py, cosine_row_stats* stats, index_t rows, index_t len,
                       double e) {
#pragma omp parallel for schedule(static) if (rows * len >= parallel_min_work)
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
    py[u] = T(dot / D);
  }
}

// ∂self_u += g_u·(other_u/D − [unclamped]·y·self_u/‖self_u‖²), for self = a (self_is_a) or b.
template <class T>
void cosine_similarity_backward(const T* g, const T* ps, const T* po, T* pd, const cosine_row_stats* stats,
                                index_t rows, index_t len, bool self_is_a) {
#pragma omp parallel for schedule(static) if (rows * len >= parallel_min_work)
  for (index_t u = 0; u < rows; ++u) {
    const cosine_row_stats& r = stats[u];
    const double n2 = self_is_a ? r.na2 : r.nb2;
    const T c_other = T(double(g[u]) / r.D);
    const T c_self = r.clamped ? T(0) : T(-double(g[u]) * r.y / n2);
    for (index_t i = 0; i < len; ++i) pd[u * len + i] += c_other * po[u * len + i] + c_self * ps[u * len + i];
  }
}

}  // namespace modelmix::ops::cpu
