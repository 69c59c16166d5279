#pragma once
// Inference-time conv → BatchNorm (running statistics) → ReLU as one convolution.
//
//   BN(conv(x, W) + b) = conv(x, W') + b',   W'_k = s_k·W_k,   b'_k = s_k·(b_k − μ_k) + β_k,
//   s_k = γ_k / sqrt(σ²_k + ε)                      (μ, σ² the running statistics)
//   y = max(0, conv(x, W') + b')
//
// W' and b' are formed once per call (K·C·R·S values, in double, then rounded once), and the
// ReLU runs in the convolution's epilogue while each tile is still in registers: the
// convolution's and the normalisation's outputs are never written, so the two passes over
// the activations (BN, ReLU) and their tensors disappear. Rounding differs from the three ops
// in the last bits (the scale is applied to the filter, not to the sum).
//
// Evaluation only: training normalises with batch statistics, which cannot be folded, and the
// folded filter is a new tensor through which no gradient flows; an input that needs a gradient
// is refused. layers/conv_bn_relu.hpp decides when a network's forward can take this path.
// CPU only for now (the device falls back to the three ops there).
#include <cmath>
#include <type_traits>
#include <utility>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/ops/conv2d.hpp"
#include "modelmix/ops/dispatch.hpp"

namespace modelmix::ops {

// The BatchNorm2d an inference-time convolution absorbs: affine parameters and running statistics [K].
template <class T>
struct batch_norm_fold {
  const Tensor<T>& gamma;
  const Tensor<T>& beta;
  const Tensor<T>& running_mean;
  const Tensor<T>& running_var;
  T eps = T(1e-5);
};

// W' and b' of the header comment. bias may be null (a convolution without one).
template <class T>
std::pair<Tensor<T>, Tensor<T>> fold_batch_norm(const Tensor<T>& weight, const Tensor<std::type_identity_t<T>>* bias,
                                                const batch_norm_fold<std::type_identity_t<T>>& bn) {
  const index_t K = weight.dim(0), per_filter = weight.numel() / K;
  const Shape per_channel{K};
  MODELMIX_REQUIRE(bn.gamma.shape() == per_channel && bn.beta.shape() == per_channel &&
                       bn.running_mean.shape() == per_channel && bn.running_var.shape() == per_channel,
                   "conv2d_bn_relu: the BatchNorm's gamma ", bn.gamma.shape(), ", beta ", bn.beta.shape(),
                   ", running_mean ", bn.running_mean.shape(), " and running_var ", bn.running_var.shape(),
                   " must all be ", per_channel, " for a filter ", weight.shape());
  MODELMIX_REQUIRE(!bias || bias->shape() == per_channel, "conv2d_bn_relu: bias ", bias->shape(), " must be ",
                   per_channel);
  MODELMIX_REQUIRE(bn.eps > T(0), "conv2d_bn_relu: eps must be positive, got ", bn.eps);
  Tensor<T> w(weight.shape()), b(per_channel);
  for (index_t k = 0; k < K; ++k) {
    const double var = double(bn.running_var[k]);
    MODELMIX_REQUIRE(var >= 0, "conv2d_bn_relu: running_var[", k, "] is negative (", var, ")");
    const double s = double(bn.gamma[k]) / std::sqrt(var + double(bn.eps));
    for (index_t i = 0; i < per_filter; ++i) w[k * per_filter + i] = T(s * double(weight[k * per_filter + i]));
    b[k] = T(s * ((bias ? double((*bias)[k]) : 0.0) - double(bn.running_mean[k])) + double(bn.beta[k]));
  }
  return {std::move(w), std::move(b)};
}

// max(0, BN_eval(conv(x, weight) + bias)) in one convolution. bias may be null.
template <class T>
Var<T> conv2d_bn_relu(const Var<T>& x, const Tensor<std::type_identity_t<T>>& weight,
                      const Tensor<std::type_identity_t<T>>* bias, const batch_norm_fold<std::type_identity_t<T>>& bn,
                      conv2d_options o = {}) {
  MODELMIX_REQUIRE(x.valid(), "conv2d_bn_relu: the input is an empty Var");
  MODELMIX_REQUIRE(!x.requires_grad(), "conv2d_bn_relu: inference only, but the input needs a gradient "
                                       "(run the forward under autograd::no_grad_guard, or use conv2d, batch_norm2d "
                                       "and relu)");
  MODELMIX_REQUIRE(o.path == conv2d_path::fused, "conv2d_bn_relu: only the fused convolution path has the epilogue");
  const conv2d_problem pb = make_conv2d_problem(x.shape(), weight.shape(), o.stride, o.padding);
  const device where = device_of("conv2d_bn_relu", {x.value(), weight, bn.gamma, bn.beta, bn.running_mean,
                                                    bn.running_var});
  Tensor<T> y = Tensor<T>::empty(pb.output_shape(), where);
  run_on("conv2d_bn_relu", where, [&] {
    const auto [w, b] = fold_batch_norm(weight, bias, bn);
    mixing::spec<T> plain;
    plain.terms.push_back({w.data(), b.data(), T(1)});
    plain.weight_numel = w.numel();
    plain.bias_numel = b.numel();
    cpu::conv2d_fprop(pb, x.value().data(), y.data(), plain, true);
  });
  return x.tape().record("conv2d_bn_relu", std::move(y), {x}, [](const Tensor<T>&) {});
}

}  // namespace modelmix::ops
