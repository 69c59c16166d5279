#pragma once
// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_:
//
//   norm = sqrt(Σ_parameters Σ_i grad_i²)
//   norm > max_norm:  grad ← grad · max_norm / (norm + 1e-6)
//
// Returns the norm before clipping. A non-finite norm (an inf/NaN gradient) is returned as is
// and the gradients are left untouched, so the caller can see it and skip the step.
//
// Gradients on a CUDA device (all of them: mixing devices is refused) are reduced and scaled
// there (ops/cuda/optim.hpp): each gradient's Σ g² by a fixed-order device reduction, the
// total summed in parameter order, and the scaling decided by the kernels from the norm in
// device memory. The overload taking `Tensor<double>& norm` leaves the norm there too, so
// nothing waits for the device; the one returning a double copies that one scalar back.
#include <cmath>
#include <vector>

#include "modelmix/ops/cuda/optim.hpp"
#include "modelmix/ops/dispatch.hpp"
#include "modelmix/optim/parameter_list.hpp"

namespace modelmix::optim {

namespace detail {
// The device of the gradients (cpu for an empty list), which must all agree.
template <class T>
device gradients_device(const named_parameters<T>& params) {
  if (params.empty()) return device::cpu;
  const device where = params.front().second->grad.where();
  for (const auto& [name, p] : params)
    MODELMIX_REQUIRE(p->grad.where() == where, "clip_grad_norm: the gradient of '", name, "' lives on ",
                     p->grad.where(), ", the first one on ", where, "; move the parameters to one device first");
  return where;
}

template <class T>
double clip_grad_norm_cpu(const named_parameters<T>& params, double max_norm) {
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

// Reached only for T = float (MODELMIX_CUDA_FLOAT), in builds with CUDA.
template <class T>
void clip_grad_norm_cuda(const named_parameters<T>& params, double max_norm, double* norm) {
  std::vector<ops::cuda::grad_view> grads;
  grads.reserve(params.size());
  for (const auto& entry : params) grads.push_back({entry.second->grad.data(), entry.second->grad.numel()});
  ops::cuda::grad_norm(grads.data(), int(grads.size()), norm);
  ops::cuda::clip_grads(grads.data(), int(grads.size()), norm, max_norm);
}
}  // namespace detail

// The norm into `norm`, a one-element tensor (shape [1]) on the gradients' device: on a CUDA
// device the whole computation stays queued there and nothing waits for it. Pass the same
// tensor every step: it is reused (a new device allocation would be a cudaMalloc, and freeing
// the old one a cudaFree, which waits for the device).
template <class T>
void clip_grad_norm(const named_parameters<T>& params, double max_norm, Tensor<double>& norm) {
  MODELMIX_REQUIRE(max_norm > 0, "clip_grad_norm: max_norm must be positive; got ", max_norm);
  const device where = detail::gradients_device(params);
  if (norm.shape() != Shape{1} || norm.where() != where) norm = Tensor<double>::empty(Shape{1}, where);
  ops::run_on(
      "clip_grad_norm", where, [&] { norm.data()[0] = detail::clip_grad_norm_cpu(params, max_norm); },
      MODELMIX_CUDA_FLOAT(T, "clip_grad_norm", detail::clip_grad_norm_cuda(params, max_norm, norm.data())));
}

// The global norm alone (no clipping), into `norm` as above: what a trainer checks for a
// non-finite gradient with one scalar read back from the device.
template <class T>
void gradient_norm(const named_parameters<T>& params, Tensor<double>& norm) {
  const device where = detail::gradients_device(params);
  if (norm.shape() != Shape{1} || norm.where() != where) norm = Tensor<double>::empty(Shape{1}, where);
  ops::run_on(
      "gradient_norm", where,
      [&] {
        double sum = 0;
        for (const auto& entry : params)
          for (const T g : entry.second->grad.span()) sum += double(g) * double(g);
        norm.data()[0] = std::sqrt(sum);
      },
      MODELMIX_CUDA_FLOAT(T, "gradient_norm", {
        std::vector<ops::cuda::grad_view> grads;
        for (const auto& entry : params) grads.push_back({entry.second->grad.data(), entry.second->grad.numel()});
        ops::cuda::grad_norm(grads.data(), int(grads.size()), norm.data());
      }));
}

template <class T>
double clip_grad_norm(const named_parameters<T>& params, double max_norm) {
  MODELMIX_REQUIRE(max_norm > 0, "clip_grad_norm: max_norm must be positive; got ", max_norm);
  if (detail::gradients_device(params) == device::cpu) return detail::clip_grad_norm_cpu(params, max_norm);
  Tensor<double> norm;
  clip_grad_norm(params, max_norm, norm);
  // The one host wait of clipping on a device: the caller asked for the norm as a double, so
  // its 8 bytes are copied back, which waits for the kernels queued before. Use the overload
  // above to keep the norm on the device.
  return norm.to_host()[0];
}

}  // namespace modelmix::optim
