#pragma once
// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_:
//
//   norm = sqrt(Σ_parameters Σ_i grad_i²)
//   norm > max_norm:  grad ← grad · max_norm / (norm + 1e-6)
//
// Returns the norm before clipping. A non-finite norm (an inf/NaN gradient) is returned as is
// and the gradients are left untouched, so the caller can see it and skip the step.
#include <cmath>

#include "modelmix/optim/parameter_list.hpp"

namespace modelmix::optim {

template <class T>
double clip_grad_norm(const named_parameters<T>& params, double max_norm) {
  MODELMIX_REQUIRE(max_norm > 0, "clip_grad_norm: max_norm must be positive; got ", max_norm);
  double sum = 0;
  for (const auto& entry : params) {
    const Tensor<T>& g = entry.second->grad;
    const index_t n = g.numel();
#pragma omp parallel for reduction(+ : sum) if (n > 32768)
    for (index_t i = 0; i < n; ++i) sum += double(g[i]) * double(g[i]);
  }
  const double norm = std::sqrt(sum);
  if (std::isfinite(norm) && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& entry : params)
      for (T& v : entry.second->grad.span()) v = T(double(v) * scale);
  }
  return norm;
}

}  // namespace modelmix::optim
