#pragma once
// Finite-difference gradient checker, shipped with the library so users can check their
// own layers the way the library checks its own.
//
// The function under test builds a graph on a fresh tape from leaf Vars made of `inputs`
// (and from any Parameters it binds itself). Its output may have any shape: the checker
// reduces it with a fixed random projection L = <r, out>, so every output element matters.
// Analytic dL/d(each input element, each parameter element) is compared with the central
// difference (L(θ+ε) − L(θ−ε)) / 2ε. A gradient that was never written shows up as a
// mismatch wherever the numeric derivative is non-zero.
//
// Backward must accumulate (+=), never overwrite: before the analytic pass every gradient
// buffer (inputs and parameters) is pre-filled with a random sentinel S, and the analytic
// gradient is read as (buffer after backward − S). A backward that assigns (=) instead of
// adding loses S and is reported (dlib's test_layer checks the same way). On return each
// parameter's grad holds its analytic gradient alone, as if it had been zeroed first.
#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "modelmix/autograd/tape.hpp"

namespace modelmix::autograd {

struct gradcheck_options {
  double eps = 1e-6;
  double rtol = 1e-5;
  double atol = 1e-7;
  unsigned seed = 7;
  int max_reported = 8;
};

struct gradcheck_result {
  bool ok = true;
  double max_abs_error = 0;
  std::size_t checked = 0;
  std::string report;  // one line per mismatch (up to max_reported)
};

template <class T>
struct named_parameter {
  std::string name;
  Parameter<T>* parameter;
};

using gradcheck_function = std::function<Var<double>(Tape<double>&, const std::vector<Var<double>>&)>;

namespace detail {
// L = <r, out>, recorded as an op so the projection's backward is exact.
inline Var<double> project(Tape<double>& tape, const Var<double>& out, const Tensor<double>& r) {
  const Tensor<double>& y = out.value();
  double sum = 0;
  for (index_t i = 0; i < y.numel(); ++i) sum += r[i] * y[i];
  return tape.record("gradcheck.project", Tensor<double>(Shape{1}, sum), {out},
                     [&tape, out, r](const Tensor<double>& g) {
                       if (Tensor<double>* gy = tape.grad_slot(out))
                         for (index_t i = 0; i < gy->numel(); ++i) (*gy)[i] += g[0] * r[i];
                     });
}
}  // namespace detail

inline gradcheck_result gradcheck(const gradcheck_function& fn, std::vector<Tensor<double>> inputs,
                                  std::vector<named_parameter<double>> parameters = {},
                                  gradcheck_options options = {}) {
  // Sentinels in [0.5, 1.5) with a random sign: never zero, so overwriting is always visible.
  std::mt19937 sentinel_rng(options.seed ^ 0x5e47u);
  auto sentinel_fill = [&](Tensor<double>& t) {
    std::uniform_real_distribution<double> u(0.5, 1.5);
    std::bernoulli_distribution negative(0.5);
    for (index_t i = 0; i < t.numel(); ++i) t[i] = negative(sentinel_rng) ? -u(sentinel_rng) : u(sentinel_rng);
  };

  // The projection is drawn from the output shape of a first, plain evaluation.
  Tensor<double> r;
  auto evaluate = [&](bool analytic) {
    Tape<double> tape;
    // Analytic pass: inputs are bound as parameters, so their gradient buffers (pre-filled
    // with sentinels) are ours, not lazily zeroed slots of the tape.
    std::vector<Parameter<double>> bound(analytic ? inputs.size() : 0);
    std::vector<Tensor<double>> input_sentinels;
    for (std::size_t k = 0; k < bound.size(); ++k) {
      bound[k].value = inputs[k];
      bound[k].grad = Tensor<double>(inputs[k].shape());
      sentinel_fill(bound[k].grad);
      input_sentinels.push_back(bound[k].grad);
    }
    std::vector<Var<double>> leaves;
    for (std::size_t k = 0; k < inputs.size(); ++k)
      leaves.push_back(analytic ? tape.parameter(bound[k]) : tape.constant(inputs[k]));
    Var<double> out = fn(tape, leaves);
    if (r.empty()) {
      std::mt19937 rng(options.seed);
      std::uniform_real_distribution<double> u(-1.0, 1.0);
      r = Tensor<double>(out.shape());
      for (index_t i = 0; i < r.numel(); ++i) r[i] = u(rng);
    }
    MODELMIX_REQUIRE(out.shape() == r.shape(), "gradcheck: the function's output shape changed between calls");
    Var<double> loss = detail::project(tape, out, r);
    std::vector<Tensor<double>> grads;
    if (analytic) {
      if (loss.requires_grad()) tape.backward(loss);
      for (std::size_t k = 0; k < bound.size(); ++k) {
        Tensor<double> g = bound[k].grad;
        for (index_t i = 0; i < g.numel(); ++i) g[i] -= input_sentinels[k][i];
        grads.push_back(std::move(g));
      }
    }
    return std::pair{loss.value()[0], grads};
  };

  // Parameters: sentinel-filled grads (a parameter listed twice keeps one sentinel).
  for (auto& p : parameters) sentinel_fill(p.parameter->grad);
  std::vector<Tensor<double>> parameter_sentinels;
  for (auto& p : parameters) parameter_sentinels.push_back(p.parameter->grad);
  auto [base, input_grads] = evaluate(true);
  (void)base;
  std::vector<Tensor<double>> parameter_grads;
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    Tensor<double> g = parameters[k].parameter->grad;
    for (index_t i = 0; i < g.numel(); ++i) g[i] -= parameter_sentinels[k][i];
    parameter_grads.push_back(std::move(g));
  }
  for (std::size_t k = 0; k < parameters.size(); ++k) parameters[k].parameter->grad = parameter_grads[k];

  gradcheck_result result;
  auto compare = [&](const std::string& name, Tensor<double>& values, const Tensor<double>& analytic) {
    for (index_t i = 0; i < values.numel(); ++i) {
      const double saved = values[i];
      values[i] = saved + options.eps;
      const double plus = evaluate(false).first;
      values[i] = saved - options.eps;
      const double minus = evaluate(false).first;
      values[i] = saved;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double err = std::abs(numeric - analytic[i]);
      if (std::isnan(err) || err > result.max_abs_error) result.max_abs_error = err;  // a NaN sticks
      ++result.checked;
      if (!(err <= options.atol + options.rtol * std::abs(numeric))) {  // NaN fails too
        if (result.ok || std::count(result.report.begin(), result.report.end(), '\n') < options.max_reported)
          result.report += cat(name, "[", i, "]: analytic ", analytic[i], " numeric ", numeric, "\n");
        result.ok = false;
      }
    }
  };
  for (std::size_t k = 0; k < inputs.size(); ++k) compare(cat("input", k), inputs[k], input_grads[k]);
  for (std::size_t k = 0; k < parameters.size(); ++k)
    compare(parameters[k].name, parameters[k].parameter->value, parameter_grads[k]);
  if (result.ok) result.report = cat("all ", result.checked, " derivatives match (max abs error ", result.max_abs_error, ")");
  return result;
}

}  // namespace modelmix::autograd
