#pragma once
// conv → BatchNorm2d → ReLU, the U-Net's unit, as one call that picks how to run it.
//
// In evaluation (BN on its running statistics) with gradient recording off, on the CPU, and
// with neither layer bound in a network-level mix, the three layers are one convolution with
// the BN folded into its filter and bias and the ReLU in its epilogue (ops/conv2d_bn_relu.hpp).
// Everywhere else — training, a forward that records gradients, a mixed layer (its filter is
// Σ c_i·W_i, formed inside the convolution and never stored, so there is no filter to fold
// into), the device, or ctx.fold_batch_norm off — the three layers run as they are.
#include "modelmix/autograd/tape.hpp"
#include "modelmix/layers/activation.hpp"
#include "modelmix/layers/batch_norm.hpp"
#include "modelmix/layers/conv2d.hpp"
#include "modelmix/layers/forward_context.hpp"
#include "modelmix/layers/mix_bindings.hpp"
#include "modelmix/ops/conv2d_bn_relu.hpp"

namespace modelmix::layers {

template <class T>
bool can_fold_batch_norm(const Conv2d<T>& conv, const BatchNorm2d<T>& bn, const Var<T>& x,
                         const forward_context<T>& ctx) {
  return ctx.fold_batch_norm && !ctx.training && !autograd::grad_mode_enabled() && !x.requires_grad() &&
         x.value().where() == device::cpu && conv.weight.value.where() == device::cpu &&
         conv.options().path == ops::conv2d_path::fused && !bound_mix(ctx, &conv) && !bound_mix(ctx, &bn);
}

template <class T>
Var<T> conv_bn_relu(Tape<T>& tape, Conv2d<T>& conv, BatchNorm2d<T>& bn, ReLU<T>& relu, const Var<T>& x,
                    const forward_context<T>& ctx) {
  if (!can_fold_batch_norm(conv, bn, x, ctx))
    return relu.forward(tape, bn.forward(tape, conv.forward(tape, x, ctx), ctx), ctx);
  const conv2d_options& o = conv.options();
  return ops::conv2d_bn_relu(x, conv.weight.value, conv.has_bias() ? &conv.bias.value : nullptr,
                             {bn.weight.value, bn.bias.value, bn.running_mean, bn.running_var, T(bn.options().eps)},
                             {o.stride, o.padding, o.path});
}

}  // namespace modelmix::layers
