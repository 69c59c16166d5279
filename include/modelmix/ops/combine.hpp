#pragma once
// A weighted sum of same-shaped parameters: the mix spec for small parameters that no
// kernel reads (BatchNorm γ/β, bias layers), written out as its own op.
//
//   terms = (θ_i, c_i), θ_i any shape (all equal), c_i [1]
//   out = Σ_i c_i·θ_i
//   ∂θ_i += c_i·g        ∂c_i += ⟨g, θ_i⟩
//
// Convolution kernels never go through here: they fuse the same sum into their filter load
// (ops/conv2d.hpp).
#include <span>
#include <utility>
#include <vector>

#include "modelmix/autograd/tape.hpp"

namespace modelmix::ops {

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

  Tensor<T> out(shape);
  for (const auto& [theta, c] : terms) {
    const T ci = c.value()[0];
    const Tensor<T>& v = theta.value();
    for (index_t j = 0; j < out.numel(); ++j) out[j] += ci * v[j];
  }

  std::vector<std::pair<Var<T>, Var<T>>> inputs(terms.begin(), terms.end());
  std::vector<Var<T>> recorded;
  for (const auto& [theta, c] : inputs) recorded.insert(recorded.end(), {theta, c});
  return tape.record("combine", std::move(out), recorded, [&tape, inputs = std::move(inputs)](const Tensor<T>& g) {
    for (const auto& [theta, c] : inputs) {
      const Tensor<T>& v = theta.value();
      if (Tensor<T>* gt = tape.grad_slot(theta)) {
        const T ci = c.value()[0];
        for (index_t j = 0; j < g.numel(); ++j) (*gt)[j] += ci * g[j];
      }
      if (Tensor<T>* gc = tape.grad_slot(c)) {
        double dot = 0;
        for (index_t j = 0; j < g.numel(); ++j) dot += double(g[j]) * double(v[j]);
        (*gc)[0] += T(dot);
      }
    }
  });
}

template <class T>
Var<T> combine(const std::vector<std::pair<Var<T>, Var<T>>>& terms) {
  return combine(std::span<const std::pair<Var<T>, Var<T>>>(terms));
}

}  // namespace modelmix::ops
