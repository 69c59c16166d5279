#pragma once
// A weighted sum of same-shaped parameters: the mix spec for small parameters that no
// kernel reads (BatchNorm γ/β, bias layers), written out as its own op.
//
//   terms = (θ_i, c_i), θ_i any shape (all equal), c_i [1]
//   out = Σ_i c_i·θ_i
//   ∂θ_i += c_i·g        ∂c_i += ⟨g, θ_i⟩
//
// The same mix spec as the convolution (mixing/spec.hpp): the forward is mixing::weighted_sum, the
// backward the CPU split every mixed op shares (ops/cpu/mix_gradient.hpp). Convolution
// kernels never go through here: they fuse the same sum into their filter load (ops/conv2d.hpp).
// On a device: the kernels of ops/cuda/combine.cuh. The θ_i live on the device, the c_i stay on
// the host (read there, like the convolution's); their gradients are summed on the device into
// a scratch [terms] and added to the host gradients after the kernels, as ops/conv2d.hpp does.
//
// combine_values is the same weighted sum over plain tensors, off the tape (no gradient), on
// the tensors' device: BatchNorm2d's interpolated running statistics.
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/cpu/mix_gradient.hpp"
#include "modelmix/ops/cuda/combine.hpp"
#include "modelmix/ops/dispatch.hpp"

namespace modelmix::ops {

namespace detail {
// The terms as a mix spec over the θ_i values (the "weight" of each term), coefficients read
// on the host.
template <class T>
mixing::spec<T> combine_spec(const std::vector<std::pair<Var<T>, Var<T>>>& terms) {
  mixing::spec<T> spec;
  spec.weight_numel = terms[0].first.value().numel();
  for (const auto& [theta, c] : terms) spec.terms.push_back({theta.value().data(), nullptr, c.value()[0]});
  return spec;
}

// The backward on a device (float): the coefficients' gradients (host [1] tensors) go through
// a device scratch [terms] that is then copied to the host — the one host round trip of this
// backward, needed because the coefficients live on the host.
template <class T>
void combine_backward_on_device(mixing::spec<T>& spec, const T* g) {
  std::vector<T*> host_grad(spec.terms.size(), nullptr);
  bool coeffs = false;
  for (std::size_t i = 0; i < spec.terms.size(); ++i) {
    host_grad[i] = spec.terms[i].grad_coeff;
    coeffs = coeffs || host_grad[i];
  }
  Tensor<T> dc;
  if (coeffs) {
    dc = Tensor<T>::zeros(Shape{index_t(spec.terms.size())}, device::cuda);
    for (std::size_t i = 0; i < spec.terms.size(); ++i)
      if (host_grad[i]) spec.terms[i].grad_coeff = dc.data() + i;
  }
  cuda::combine_backward(spec, g);
  if (!coeffs) return;
  const Tensor<T> summed = dc.to_host();
  for (std::size_t i = 0; i < spec.terms.size(); ++i)
    if (host_grad[i]) *host_grad[i] += summed[index_t(i)];
}
}  // namespace detail

template <class T>
Var<T> combine(std::span<const std::pair<Var<T>, Var<T>>> terms) {
  MODELMIX_REQUIRE(!terms.empty(), "combine: no terms");
  MODELMIX_REQUIRE(terms[0].first.valid(), "combine: term 0 has an empty parameter Var");
  Tape<T>& tape = terms[0].first.tape();
  const Shape& shape = terms[0].first.shape();
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const auto& [theta, c] = terms[i];
    MODELMIX_REQUIRE(theta.valid() && c.valid(), "combine: term ", i, " has an empty Var");
    MODELMIX_REQUIRE(&theta.tape() == &tape && &c.tape() == &tape, "combine: term ", i,
                     " comes from a different tape");
    MODELMIX_REQUIRE(theta.shape() == shape, "combine: term ", i, " has shape ", theta.shape(), " but term 0 has ",
                     shape);
    MODELMIX_REQUIRE(c.shape() == Shape{1}, "combine: the coefficient of term ", i, " must have shape [1], got ",
                     c.shape());
    MODELMIX_REQUIRE(theta.value().where() == terms[0].first.value().where(), "combine: term ", i, " lives on ",
                     theta.value().where(), " but term 0 on ", terms[0].first.value().where(),
                     "; move them to one device");
    MODELMIX_REQUIRE(!c.value().on_device(), "combine: mix coefficients are read on the host; keep them there");
  }

  const device where = terms[0].first.value().where();
  std::vector<std::pair<Var<T>, Var<T>>> inputs(terms.begin(), terms.end());
  Tensor<T> out = Tensor<T>::empty(shape, where);
  run_on(
      "combine", where,
      [&] { mixing::weighted_sum(out.data(), out.numel(), detail::combine_spec(inputs), &mixing::term<T>::weight); },
      MODELMIX_CUDA_FLOAT(T, "combine", cuda::combine(detail::combine_spec(inputs), out.data())));

  std::vector<Var<T>> recorded;
  for (const auto& [theta, c] : inputs) recorded.insert(recorded.end(), {theta, c});
  return tape.record("combine", std::move(out), recorded, [&tape, inputs = std::move(inputs)](const Tensor<T>& g) {
    mixing::spec<T> spec = detail::combine_spec(inputs);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (Tensor<T>* gt = tape.grad_slot(inputs[i].first)) spec.terms[i].grad_weight = gt->data();
      if (Tensor<T>* gc = tape.grad_slot(inputs[i].second)) spec.terms[i].grad_coeff = gc->data();
    }
    run_on(
        "combine", g.where(), [&] { cpu::split_into_parents(spec, g.data(), static_cast<const T*>(nullptr)); },
        MODELMIX_CUDA_FLOAT(T, "combine", detail::combine_backward_on_device(spec, g.data())));
  });
}

template <class T>
Var<T> combine(const std::vector<std::pair<Var<T>, Var<T>>>& terms) {
  return combine(std::span<const std::pair<Var<T>, Var<T>>>(terms));
}

// Σ_i c_i·θ_i over plain tensors (equal shapes, one device; c_i host values), off the tape.
template <class T>
Tensor<T> combine_values(const std::vector<std::pair<const Tensor<T>*, T>>& terms) {
  MODELMIX_REQUIRE(!terms.empty(), "combine: no terms");
  const Tensor<T>& first = *terms[0].first;
  mixing::spec<T> spec;
  spec.weight_numel = first.numel();
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const Tensor<T>& theta = *terms[i].first;
    MODELMIX_REQUIRE(theta.shape() == first.shape(), "combine: term ", i, " has shape ", theta.shape(),
                     " but term 0 has ", first.shape());
    MODELMIX_REQUIRE(theta.where() == first.where(), "combine: term ", i, " lives on ", theta.where(),
                     " but term 0 on ", first.where(), "; move them to one device");
    spec.terms.push_back({theta.data(), nullptr, terms[i].second});
  }
  Tensor<T> out = Tensor<T>::empty(first.shape(), first.where());
  run_on(
      "combine", first.where(), [&] { mixing::weighted_sum(out.data(), out.numel(), spec, &mixing::term<T>::weight); },
      MODELMIX_CUDA_FLOAT(T, "combine", cuda::combine(spec, out.data())));
  return out;
}

}  // namespace modelmix::ops
