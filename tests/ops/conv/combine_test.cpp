#include <catch2/catch.hpp>

#include <utility>
#include <vector>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/ops/combine.hpp"
#include "support/random.hpp"

using namespace modelmix;
using test::random_tensor;

TEST_CASE("combine forms Σ c_i·θ_i", "[ops][combine]") {
  Tape<float> tape;
  Var<float> a = tape.constant(Tensor<float>(Shape{3}, std::vector<float>{1, 2, 3}));
  Var<float> b = tape.constant(Tensor<float>(Shape{3}, std::vector<float>{10, 20, 30}));
  Var<float> ca = tape.constant(Tensor<float>(Shape{1}, 0.25f)), cb = tape.constant(Tensor<float>(Shape{1}, 0.75f));
  const Var<float> y = ops::combine<float>({{a, ca}, {b, cb}});
  CHECK(y.value().storage() == std::vector<float>{7.75f, 15.5f, 23.25f});
  CHECK_FALSE(y.requires_grad());
}

TEST_CASE("combine gradients reach every parameter and coefficient", "[ops][combine][gradcheck]") {
  std::vector<Parameter<double>> theta, coeff;
  for (unsigned i = 0; i < 3; ++i) {
    theta.emplace_back(random_tensor<double>({2, 3}, 50 + i));
    coeff.emplace_back(random_tensor<double>({1}, 60 + i));
  }
  auto f = [&](Tape<double>& tape, const std::vector<Var<double>>&) {
    std::vector<std::pair<Var<double>, Var<double>>> terms;
    for (std::size_t i = 0; i < 3; ++i) terms.emplace_back(tape.parameter(theta[i]), tape.parameter(coeff[i]));
    terms.emplace_back(tape.parameter(theta[0]), tape.parameter(coeff[2]));  // a parameter used twice accumulates
    return ops::combine(terms);
  };
  std::vector<autograd::named_parameter<double>> params;
  for (std::size_t i = 0; i < 3; ++i) {
    params.push_back({cat("theta", i), &theta[i]});
    params.push_back({cat("c", i), &coeff[i]});
  }
  const auto r = autograd::gradcheck(f, {}, params);
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked == 3 * 7);
}

TEST_CASE("combine explains mismatched terms", "[ops][combine]") {
  Tape<float> tape;
  Var<float> a = tape.constant(Tensor<float>(Shape{3}, 1.f)), b = tape.constant(Tensor<float>(Shape{4}, 1.f));
  Var<float> c = tape.constant(Tensor<float>(Shape{1}, 1.f)), c2 = tape.constant(Tensor<float>(Shape{2}, 1.f));
  CHECK_THROWS_WITH(ops::combine<float>({{a, c}, {b, c}}), Catch::Contains("combine: term 1 has shape [4] but term 0 has [3]"));
  CHECK_THROWS_WITH(ops::combine<float>({{a, c2}}), Catch::Contains("coefficient of term 0 must have shape [1], got [2]"));
  CHECK_THROWS_WITH(ops::combine(std::vector<std::pair<Var<float>, Var<float>>>{}), Catch::Contains("combine: no terms"));
}
