#pragma once
// The CUDA backend of ops::conv2d as a chain that never refuses a valid problem (DESIGN: a
// device op checks can_implement, then falls back):
//
//   1. the fused kernels (ops/cuda/conv2d.hpp) when they take the problem and the spec
//      (at most max_fused_terms parents, 32-bit sizes);
//   2. a larger model soup in groups of max_fused_terms parents: dgrad and wgrad are linear in
//      the parents and accumulate (+=), so each group adds its share; fprop overwrites, so it
//      runs once on W = Σ c_i·W_i materialized first (materialize takes any number of terms);
//   3. a problem too large for 32-bit kernel indices: W materialized, then cuDNN.
//
// Same contract as every conv2d backend: fprop overwrites y, dgrad and wgrad accumulate.
// Host code over device pointers; needs the modelmix::cuda target (MODELMIX_WITH_CUDA).
#include <vector>

#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/cuda/conv2d.hpp"
#include "modelmix/ops/cudnn/conv2d.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops::cuda::chain {

// The spec's terms in groups of at most `size`.
inline std::vector<mixing::spec<float>> groups(const mixing::spec<float>& s, std::size_t size) {
  std::vector<mixing::spec<float>> out;
  for (std::size_t i = 0; i < s.terms.size(); i += size) {
    mixing::spec<float>& g = out.emplace_back(mixing::spec<float>{{}, s.weight_numel, s.bias_numel});
    for (std::size_t j = i; j < std::min(s.terms.size(), i + size); ++j) g.terms.push_back(s.terms[j]);
  }
  return out;
}

// W = Σ c_i·W_i (and b) for any number of terms, into device tensors.
struct materialized {
  Tensor<float> weight, bias;
  explicit materialized(const mixing::spec<float>& s)
      : weight(Tensor<float>::empty(Shape{s.weight_numel}, device::cuda)),
        bias(Tensor<float>::empty(Shape{s.bias_numel}, device::cuda)) {
    cuda::materialize(s, weight.data(), s.has_bias() ? bias.data() : nullptr);
  }
  [[nodiscard]] mixing::spec<float> plain(const mixing::spec<float>& s) const {
    return {{{weight.data(), s.has_bias() ? bias.data() : nullptr, 1.0f}}, s.weight_numel, s.bias_numel};
  }
};

inline bool fused_takes_groups(const conv2d_problem& pb, const mixing::spec<float>& s) {
  for (const auto& g : groups(s, std::size_t(max_fused_terms)))
    if (!can_implement(pb, g)) return false;
  return true;
}

inline void conv2d_fprop(const conv2d_problem& pb, const float* x, float* y, const mixing::spec<float>& s) {
  if (can_implement(pb, s)) return cuda::conv2d_fprop(pb, x, y, s);
  const materialized w(s);
  const mixing::spec<float> plain = w.plain(s);
  if (can_implement(pb, plain)) return cuda::conv2d_fprop(pb, x, y, plain);
  cudnn::conv2d_fprop(pb, x, w.weight.data(), s.has_bias() ? w.bias.data() : nullptr, y);
}

inline void conv2d_dgrad(const conv2d_problem& pb, const float* dy, float* dx, const mixing::spec<float>& s) {
  if (can_implement(pb, s)) return cuda::conv2d_dgrad(pb, dy, dx, s);
  if (fused_takes_groups(pb, s)) {
    for (const auto& g : groups(s, std::size_t(max_fused_terms))) cuda::conv2d_dgrad(pb, dy, dx, g);
    return;
  }
  const materialized w(s);
  cudnn::conv2d_dgrad(pb, dy, w.weight.data(), dx);
}

inline void conv2d_wgrad(const conv2d_problem& pb, const float* x, const float* dy, const mixing::spec<float>& s) {
  if (can_implement(pb, s)) return cuda::conv2d_wgrad(pb, x, dy, s);
  if (fused_takes_groups(pb, s)) {
    for (const auto& g : groups(s, std::size_t(max_fused_terms))) cuda::conv2d_wgrad(pb, x, dy, g);
    return;
  }
  if (!s.wants_weight_grad() && !s.wants_bias_grad()) return;
  Tensor<float> dw = Tensor<float>::zeros(Shape{s.weight_numel}, device::cuda);
  Tensor<float> db = Tensor<float>::zeros(Shape{s.bias_numel}, device::cuda);
  cudnn::conv2d_wgrad(pb, x, dy, dw.data());
  if (s.has_bias()) cudnn::conv2d_bgrad(pb, dy, db.data());
  for (const auto& g : groups(s, std::size_t(max_fused_terms)))
    cudnn::split_gradient(g, dw.data(), s.has_bias() ? db.data() : nullptr);
}

}  // namespace modelmix::ops::cuda::chain
