#pragma once
// conv → BatchNorm2d → ReLU, the U-Net's unit, as one call that picks how to run it.
//
//   evaluation, gradient recording off, CPU, neither layer bound in a network-level mix:
//       one convolution with the BN folded into its filter and bias and the ReLU in its
//       epilogue (ops/conv2d_bn_relu.hpp) — same result up to rounding;
//   otherwise (training, a recorded forward, a mixed layer — whose filter Σ c_i·W_i is formed
//   inside the convolution and never stored, so there is nothing to fold into — the device):
//       the convolution, then BN and ReLU as one op (ops::batch_norm2d_relu: the normalised
//       tensor is never stored) — bit-identical to the three layers.
// ctx.fuse_conv_bn_relu = false runs the three layers one by one. The unit's ReLU is a layer
// without state, so the unit needs only the conv and the BN.
#include "modelmix/autograd/tape.hpp"
#include "modelmix/layers/batch_norm.hpp"
#include "modelmix/layers/conv2d.hpp"
#include "modelmix/layers/forward_context.hpp"
#include "modelmix/layers/mix_bindings.hpp"
#include "modelmix/ops/activation.hpp"
#include "modelmix/ops/conv2d_bn_relu.hpp"

namespace modelmix::layers {

template <class T>
bool can_fold_batch_norm(const Conv2d<T>& conv, const BatchNorm2d<T>& bn, const Var<T>& x,
                         const forward_context<T>& ctx) {
  return ctx.fuse_conv_bn_relu && !ctx.training && !autograd::grad_mode_enabled() && !x.requires_grad() &&
         x.value().where() == device::cpu && conv.weight.value.where() == device::cpu &&
         conv.options().path == ops::conv2d_path::fused && !bound_mix(ctx, &conv) && !bound_mix(ctx, &bn);
}

template <class T>
Var<T> conv_bn_relu(Tape<T>& tape, Conv2d<T>& conv, BatchNorm2d<T>& bn, const Var<T>& x,
                    const forward_context<T>& ctx) {
  if (!ctx.fuse_conv_bn_relu) return ops::relu(bn.forward(tape, conv.forward(tape, x, ctx), ctx));
  if (!can_fold_batch_norm(conv, bn, x, ctx)) {
    forward_context<T> rectified = ctx;
    rectified.relu_after_batch_norm = true;
    return bn.forward(tape, conv.forward(tape, x, ctx), rectified);
  }
  const conv2d_options& o = conv.options();
  return ops::conv2d_bn_relu(x, conv.weight.value, conv.has_bias() ? &conv.bias.value : nullptr,
                             {bn.weight.value, bn.bias.value, bn.running_mean, bn.running_var, T(bn.options().eps)},
                             {o.stride, o.padding, o.path});
}

}  // namespace modelmix::layers
