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
#include <span>
#include <utility>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/cpu/mix_gradient.hpp"
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
  }

  const device where = terms[0].first.value().where();
  std::vector<std::pair<Var<T>, Var<T>>> inputs(terms.begin(), terms.end());
  Tensor<T> out = Tensor<T>::empty(shape, where);
  run_on("combine", where, [&] {
    mixing::weighted_sum(out.data(), out.numel(), detail::combine_spec(inputs), &mixing::term<T>::weight);
  });

  std::vector<Var<T>> recorded;
  for (const auto& [theta, c] : inputs) recorded.insert(recorded.end(), {theta, c});
  return tape.record("combine", std::move(out), recorded, [&tape, inputs = std::move(inputs)](const Tensor<T>& g) {
    mixing::spec<T> spec = detail::combine_spec(inputs);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (Tensor<T>* gt = tape.grad_slot(inputs[i].first)) spec.terms[i].grad_weight = gt->data();
      if (Tensor<T>* gc = tape.grad_slot(inputs[i].second)) spec.terms[i].grad_coeff = gc->data();
    }
    run_on("combine", g.where(), [&] { cpu::split_into_parents(spec, g.data(), static_cast<const T*>(nullptr)); });
  });
}

template <class T>
Var<T> combine(const std::vector<std::pair<Var<T>, Var<T>>>& terms) {
  return combine(std::span<const std::pair<Var<T>, Var<T>>>(terms));
}

}  // namespace modelmix::ops
