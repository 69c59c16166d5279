#pragma once
// The backward of mixing on the CPU, shared by every parametric op (mixed convolution, its
// naive baseline, ops::combine): given the gradient d of the mixed parameter θ = Σ_i c_i·θ_i,
//
//   grad_weight_i += c_i·dW    grad_bias_i += c_i·db    grad_coeff_i += ⟨dW, W_i⟩ + ⟨db, b_i⟩
//
// in one pass over dW (each chunk stays in L1 while every parent reads it). Null gradient
// pointers are skipped. The dot products are summed per chunk and the chunk sums added in
// double, in chunk order: the result does not depend on the number of threads.
#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "modelmix/mixing/spec.hpp"

namespace modelmix::ops::cpu {

namespace detail {
template <class T>
using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

// For j in [lo, hi): grad_i[j] += c_i·d[j] and dots[i] += Σ_j d[j]·parent_i[j].
template <class T>
void split_range(const mixing::spec<T>& spec, const T* d, index_t lo, index_t hi, const T* mixing::term<T>::*parent,
                 T* mixing::term<T>::*grad, double* dots) {
  const ConstVectorMap<T> dv(d + lo, hi - lo);
  for (std::size_t i = 0; i < spec.terms.size(); ++i) {
    const mixing::term<T>& t = spec.terms[i];
    if (T* g = t.*grad) VectorMap<T>(g + lo, hi - lo) += t.coeff * dv;
    if (t.grad_coeff) dots[i] += double(dv.dot(ConstVectorMap<T>(t.*parent + lo, hi - lo)));
  }
}

}  // namespace detail

// dw (spec.weight_numel values) and db (spec.bias_numel) may each be null (not computed).
template <class T>
void split_into_parents(const mixing::spec<T>& spec, const T* dw, const T* db) {
  constexpr index_t chunk = 2048;
  const std::size_t terms = spec.terms.size();
  std::vector<double> dc(terms, 0.0);
  if (dw) {
    const index_t n = spec.weight_numel;
    // One partial dot product per chunk, summed in chunk order afterwards: the result does not
    // depend on the number of threads or their timing.
    const index_t chunks = (n + chunk - 1) / chunk;
    std::vector<double> partial(std::size_t(chunks) * terms, 0.0);
#pragma omp parallel for schedule(static) if (n > 16 * chunk)
    for (index_t c = 0; c < chunks; ++c)
      detail::split_range(spec, dw, c * chunk, std::min(n, (c + 1) * chunk), &mixing::term<T>::weight, &mixing::term<T>::grad_weight,
                  partial.data() + std::size_t(c) * terms);
    for (index_t c = 0; c < chunks; ++c)
      for (std::size_t i = 0; i < terms; ++i) dc[i] += partial[std::size_t(c) * terms + i];
  }
  if (db) detail::split_range(spec, db, 0, spec.bias_numel, &mixing::term<T>::bias, &mixing::term<T>::grad_bias, dc.data());
  for (std::size_t i = 0; i < terms; ++i)
    if (T* g = spec.terms[i].grad_coeff) *g += T(dc[i]);
}

}  // namespace modelmix::ops::cpu
