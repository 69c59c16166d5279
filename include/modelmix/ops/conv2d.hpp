#pragma once
// Mixed 2D convolution as a differentiable op: the one place that turns Vars into a
// conv2d_problem + mix_spec and picks a backend.
//
//   y = conv(x, Σ_i c_i·W_i) + Σ_i c_i·b_i
//   x [N,C,H,W]   W_i [K,C,R,S]   b_i [K] (all parents or none)   c_i [1]   y [N,K,P,Q]
//
//   ∂x   = dgrad(g, Σ c_i·W_i)                      only if x needs a gradient
//   ∂W_i += c_i·dW   ∂b_i += c_i·db                 only for parents that need one
//   ∂c_i += ⟨dW, W_i⟩ + ⟨db, b_i⟩                  only for coefficients that need one
//   (dW, db = the plain-convolution weight/bias gradients, never stored per parent)
//
// A parent bound with tape.constant_ref has no gradient slot: its pointers stay null in the
// spec, so the backend never touches it. This is how gradient policies `none` and
// `host_only` are expressed by the layers.
//
// Backends, by the device of x: CPU paths fused (ops/cpu/conv2d.hpp, the real one), naive
// (ops/cpu/conv2d_naive.hpp: materialize then plain conv; tests/benchmarks only), reference
// (plain loops; tests only); CUDA: the fused kernels and their fallbacks (ops/cuda/conv2d_chain.hpp,
// float, with the optional modelmix::cuda target). The coefficients c_i are [1] tensors read on the host
// (a λ is drawn on the host each step).
#include <span>
#include <type_traits>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/ops/conv2d_problem.hpp"
#include "modelmix/ops/cpu/conv2d.hpp"
#include "modelmix/ops/cpu/conv2d_naive.hpp"
#include "modelmix/mixing/operand.hpp"
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/dispatch.hpp"
#include "modelmix/ops/reference/conv2d.hpp"
#if MODELMIX_WITH_CUDA
#include "modelmix/ops/cuda/conv2d_chain.hpp"
#endif

namespace modelmix::ops {

enum class conv2d_path { fused, naive, reference };

struct conv2d_options {
  index_t stride = 1;
  index_t padding = 0;
  conv2d_path path = conv2d_path::fused;
};

namespace detail {
template <class T>
struct conv2d_backend {
  void (*fprop)(const conv2d_problem&, const T*, T*, const mixing::spec<T>&);
  void (*dgrad)(const conv2d_problem&, const T*, T*, const mixing::spec<T>&);
  void (*wgrad)(const conv2d_problem&, const T*, const T*, const mixing::spec<T>&);
  // dx = dgrad(…) for a fresh gradient slot; null where the backend only accumulates (the
  // slot is then zeroed and dgrad adds into it).
  void (*dgrad_assign)(const conv2d_problem&, const T*, T*, const mixing::spec<T>&) = nullptr;
};

// Dispatch happens here and nowhere else: by the device of the input, then by path.
template <class T>
conv2d_backend<T> conv2d_backend_for(device where, conv2d_path path) {
  return run_on("conv2d", where, [&]() -> conv2d_backend<T> {
    switch (path) {
      case conv2d_path::naive:
        return {&cpu::conv2d_fprop_naive<T>, &cpu::conv2d_dgrad_naive<T>, &cpu::conv2d_wgrad_naive<T>};
      case conv2d_path::reference:
        return {&reference::conv2d_fprop<T>, &reference::conv2d_dgrad<T>, &reference::conv2d_wgrad<T>};
      case conv2d_path::fused:
        break;
    }
    return {&cpu::conv2d_fprop<T>, &cpu::conv2d_dgrad<T>, &cpu::conv2d_wgrad<T>, &cpu::conv2d_dgrad_assign<T>};
  }, [&]() -> conv2d_backend<T> {
#if MODELMIX_WITH_CUDA
    if constexpr (std::is_same_v<T, float>) {
      MODELMIX_REQUIRE(path == conv2d_path::fused, "conv2d: on the CUDA device only the fused path exists");
      return {&cuda::chain::conv2d_fprop, &cuda::chain::conv2d_dgrad, &cuda::chain::conv2d_wgrad};
    } else {
      throw error("conv2d: the CUDA kernels are instantiated for float only");
    }
#else
    modelmix::detail::no_cuda("conv2d");
#endif
  });
}

// Values of the parents; gradient pointers are filled in by backward.
template <class T>
mixing::spec<T> conv2d_spec_of(const std::vector<mixing::operand<T>>& parents) {
  mixing::spec<T> spec;
  for (const mixing::operand<T>& p : parents) {
    MODELMIX_REQUIRE(!p.coeff.value().on_device(), "conv2d: mix coefficients are read on the host; keep them there");
    spec.terms.push_back({p.weight.value().data(), p.bias.valid() ? p.bias.value().data() : nullptr, p.coeff.value()[0]});
  }
  spec.weight_numel = parents[0].weight.value().numel();
  spec.bias_numel = parents[0].bias.valid() ? parents[0].bias.value().numel() : 0;
  return spec;
}

template <class T>
T* grad_pointer(Tape<T>& tape, const Var<T>& v) {
  if (!v.valid()) return nullptr;
  Tensor<T>* g = tape.grad_slot(v);
  return g ? g->data() : nullptr;
}
}  // namespace detail

template <class T>
Var<T> conv2d(const Var<T>& x, std::span<const mixing::operand<std::type_identity_t<T>>> parents, conv2d_options o = {}) {
  MODELMIX_REQUIRE(x.valid(), "conv2d: the input is an empty Var");
  MODELMIX_REQUIRE(!parents.empty(), "conv2d: no parents (a plain layer is one parent with coefficient 1)");
  Tape<T>& tape = x.tape();
  const bool has_bias = parents[0].bias.valid();
  for (std::size_t i = 0; i < parents.size(); ++i) {
    const mixing::operand<T>& p = parents[i];
    MODELMIX_REQUIRE(p.weight.valid() && p.coeff.valid(), "conv2d: parent ", i, " has an empty weight or coefficient");
    for (const Var<T>* v : {&p.weight, &p.bias, &p.coeff})
      MODELMIX_REQUIRE(!v->valid() || &v->tape() == &tape, "conv2d: parent ", i,
                       " comes from a different tape than the input");
    MODELMIX_REQUIRE(p.weight.shape() == parents[0].weight.shape(), "conv2d: parent ", i, " weight has shape ",
                     p.weight.shape(), " but parent 0 weight has shape ", parents[0].weight.shape());
    MODELMIX_REQUIRE(p.bias.valid() == has_bias, "conv2d: parent ", i, (has_bias ? " has no bias" : " has a bias"),
                     " but parent 0 ", (has_bias ? "has one" : "has none"), "; all parents need a bias or none");
    MODELMIX_REQUIRE(p.coeff.shape() == Shape{1}, "conv2d: parent ", i, " coefficient must have shape [1], got ",
                     p.coeff.shape());
  }
  const conv2d_problem pb = make_conv2d_problem(x.shape(), parents[0].weight.shape(), o.stride, o.padding);
  if (has_bias)
    MODELMIX_REQUIRE(parents[0].bias.shape() == pb.bias_shape(), "conv2d: bias has shape ", parents[0].bias.shape(),
                     " but weight ", pb.filter_shape(), " needs ", pb.bias_shape());

  const device where = x.value().where();
  for (const mixing::operand<T>& p : parents)
    for (const Var<T>* v : {&p.weight, &p.bias})
      MODELMIX_REQUIRE(!v->valid() || v->value().where() == where, "conv2d: a parameter lives on ",
                       v->value().where(), " but the input on ", where, "; move them to one device");
  const detail::conv2d_backend<T> backend = detail::conv2d_backend_for<T>(where, o.path);
  std::vector<mixing::operand<T>> operands(parents.begin(), parents.end());
  Tensor<T> y = Tensor<T>::empty(pb.output_shape(), where);
  backend.fprop(pb, x.value().data(), y.data(), detail::conv2d_spec_of(operands));

  std::vector<Var<T>> inputs{x};
  for (const mixing::operand<T>& p : operands)
    for (const Var<T>& v : {p.weight, p.bias, p.coeff})
      if (v.valid()) inputs.push_back(v);
  return tape.record("conv2d", std::move(y), inputs,
                     [&tape, x, operands = std::move(operands), pb, backend](const Tensor<T>& g) {
                       mixing::spec<T> spec = detail::conv2d_spec_of(operands);
                       // Coefficients live on the host; on the device their gradients are
                       // accumulated in a device scratch [terms] and added back afterwards.
                       const device where = g.where();
                       Tensor<T> dc_device;
                       if (where != device::cpu) dc_device = Tensor<T>::zeros(Shape{index_t(operands.size())}, where);
                       for (std::size_t i = 0; i < operands.size(); ++i) {
                         spec.terms[i].grad_weight = detail::grad_pointer(tape, operands[i].weight);
                         spec.terms[i].grad_bias = detail::grad_pointer(tape, operands[i].bias);
                         spec.terms[i].grad_coeff = detail::grad_pointer(tape, operands[i].coeff);
                         if (spec.terms[i].grad_coeff && where != device::cpu)
                           spec.terms[i].grad_coeff = dc_device.data() + i;
                       }
                       if (const gradient_sink<T> gx = tape.grad_target(x)) {
                         if (gx.assign && backend.dgrad_assign) {
                           backend.dgrad_assign(pb, g.data(), gx.slot->data(), spec);
                         } else {
                           if (gx.assign) gx.slot->zero();
                           backend.dgrad(pb, g.data(), gx.slot->data(), spec);
                         }
                       }
                       backend.wgrad(pb, x.value().data(), g.data(), spec);
                       if (where == device::cpu) return;
                       const Tensor<T> dc = dc_device.to_host();
                       for (std::size_t i = 0; i < operands.size(); ++i)
                         if (T* gc = detail::grad_pointer(tape, operands[i].coeff)) *gc += dc[index_t(i)];
                     });
}

template <class T>
Var<T> conv2d(const Var<T>& x, const std::vector<mixing::operand<std::type_identity_t<T>>>& parents, conv2d_options o = {}) {
  return conv2d(x, std::span<const mixing::operand<T>>(parents), o);
}

// A plain layer: one parent with a constant coefficient 1. `bias` may be an empty Var.
template <class T>
Var<T> conv2d(const Var<T>& x, const Var<T>& weight, const Var<T>& bias, conv2d_options o = {}) {
  MODELMIX_REQUIRE(x.valid(), "conv2d: the input is an empty Var");
  const mixing::operand<T> plain[] = {{weight, bias, x.tape().constant(Tensor<T>(Shape{1}, T(1)))}};
  return conv2d(x, std::span<const mixing::operand<T>>(plain), o);
}

}  // namespace modelmix::ops
