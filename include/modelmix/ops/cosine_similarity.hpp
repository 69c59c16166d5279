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
// Loops in ops/cpu/cosine_similarity.hpp; on a CUDA device the kernels of ops/cuda/losses.hpp,
// the per-row statistics kept in a device buffer owned by the backward closure.
#include <cmath>
#include <memory>
#include <vector>

#include "modelmix/ops/cpu/cosine_similarity.hpp"
#include "modelmix/ops/cuda/losses.hpp"
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

  const device where = device_of("cosine_similarity", {a.value(), b.value()});
  std::vector<cpu::cosine_row_stats> stats;  // on the CPU
  std::shared_ptr<double> device_stats;      // on a device: cuda::cosine_row_fields doubles per row
  Tensor<T> y = Tensor<T>::empty(out_shape, where);
  run_on(
      "cosine_similarity", where,
      [&] {
        stats.resize(static_cast<std::size_t>(rows));
        cpu::cosine_similarity(a.value().data(), b.value().data(), y.data(), stats.data(), rows, len, double(eps));
      },
      MODELMIX_CUDA_FLOAT(T, "cosine_similarity",
                          device_stats = std::shared_ptr<double>(
                              static_cast<double*>(modelmix::detail::device_allocate(
                                  sizeof(double) * static_cast<std::size_t>(cuda::cosine_row_fields * rows))),
                              modelmix::detail::device_deleter{});
                          cuda::cosine_similarity(a.value().data(), b.value().data(), y.data(), device_stats.get(),
                                                  rows, len, double(eps))));
  return tape.record("cosine_similarity", std::move(y), {a, b},
                     [&tape, a, b, stats = std::move(stats), device_stats = std::move(device_stats), rows,
                      len](const Tensor<T>& g) {
                       // ∂self_u += g_u·(other_u/D − [unclamped]·y·self_u/‖self_u‖²)
                       auto backward_into = [&](const Var<T>& self, const Var<T>& other, bool self_is_a) {
                         Tensor<T>* gs = tape.grad_slot(self);
                         if (!gs) return;
                         run_on(
                             "cosine_similarity", g.where(),
                             [&] {
                               cpu::cosine_similarity_backward(g.data(), self.value().data(), other.value().data(),
                                                               gs->data(), stats.data(), rows, len, self_is_a);
                             },
                             MODELMIX_CUDA_FLOAT(T, "cosine_similarity",
                                                 cuda::cosine_similarity_backward(
                                                     g.data(), self.value().data(), other.value().data(), gs->data(),
                                                     device_stats.get(), rows, len, self_is_a)));
                       };
                       backward_into(a, b, true);
                       backward_into(b, a, false);
                     });
}

}  // namespace modelmix::ops
