#pragma once
// Helpers shared by the layer tests.
#include <cstring>
#include <string>
#include <vector>

#include "modelmix/layers/layers.hpp"
#include "modelmix/ops/ops.hpp"
#include "support/random.hpp"

namespace modelmix::test {

// The output value of one forward on a fresh tape, without gradients.
template <class L, class T = typename std::remove_cvref_t<L>::value_type>
Tensor<T> forward_value(L&& layer, const Tensor<T>& x, const layers::forward_context<T>& ctx = {}) {
  Tape<T> tape;
  return layer.forward(tape, tape.constant(x), ctx).value();
}

template <class T>
bool bitwise_equal(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(T) * std::size_t(a.numel())) == 0;
}

template <class T>
double max_abs_difference(const Tensor<T>& a, const Tensor<T>& b) {
  double worst = 0;
  for (index_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
  return worst;
}

template <class T>
double sum_abs(const Tensor<T>& a) {
  double s = 0;
  for (index_t i = 0; i < a.numel(); ++i) s += std::abs(double(a[i]));
  return s;
}

// c_a·a + c_b·b (+ c_c·c), elementwise.
template <class T>
Tensor<T> lerp(const Tensor<T>& a, double ca, const Tensor<T>& b, double cb) {
  Tensor<T> out(a.shape());
  for (index_t i = 0; i < a.numel(); ++i) out[i] = T(ca * double(a[i]) + cb * double(b[i]));
  return out;
}

template <class T>
void randomize(Parameter<T>& p, unsigned seed) {
  p.value = random_tensor<T>(p.shape(), seed);
}

// Every parameter of `net` set to random values (so BN γ/β, biases differ between networks).
template <class Net>
void randomize_all(Net& net, unsigned seed) {
  layers::for_each_parameter(net, [&](const std::string&, auto& p) { randomize(p, seed++); });
}

template <class Net>
std::vector<std::string> parameter_names(Net& net) {
  std::vector<std::string> names;
  layers::for_each_parameter(net, [&](const std::string& name, auto&) { names.push_back(name); });
  return names;
}

}  // namespace modelmix::test
