#include <catch2/catch.hpp>

#include <cmath>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/losses/cosine_consistency.hpp"
#include "support/random.hpp"

using namespace modelmix;

namespace {
// mean over (n, c) of the cosine over the remaining axes, plain loops.
double reference_mean_cosine(const Tensor<double>& a, const Tensor<double>& b, double eps) {
  const index_t groups = a.dim(0) * a.dim(1), len = a.numel() / groups;
  double total = 0;
  for (index_t g = 0; g < groups; ++g) {
    double dot = 0, aa = 0, bb = 0;
    for (index_t i = 0; i < len; ++i) {
      dot += a[g * len + i] * b[g * len + i];
      aa += a[g * len + i] * a[g * len + i];
      bb += b[g * len + i] * b[g * len + i];
    }
    total += dot / std::max(std::sqrt(aa) * std::sqrt(bb), eps);
  }
  return total / double(groups);
}
}  // namespace

TEST_CASE("cosine terms match hand-computed values", "[losses][cosine]") {
  // (n=0, c=0): [1, 0]·[1, 1] → 1/√2;  (n=0, c=1): [3, 4]·[6, 8] → 1.
  Tensor<double> a(Shape{1, 2, 1, 2}, std::vector<double>{1, 0, 3, 4});
  Tensor<double> b(Shape{1, 2, 1, 2}, std::vector<double>{1, 1, 6, 8});
  Tape<double> tape;
  const double mean = (1 / std::sqrt(2.0) + 1) / 2;
  CHECK(losses::cosine_consistency(tape.constant(a), tape.constant(b)).value()[0] == Approx(1 - mean).epsilon(1e-14));
  CHECK(losses::cosine_invariance(tape.constant(a), tape.constant(b)).value()[0] == Approx(-mean).epsilon(1e-14));
}

TEST_CASE("cosine clamps the norm product at eps; the clamp is constant in backward", "[losses][cosine]") {
  Tape<double> tape;
  Var<double> a = tape.variable(Tensor<double>(Shape{1, 1, 2}, 0.0));
  Var<double> b = tape.variable(Tensor<double>(Shape{1, 1, 2}, std::vector<double>{1, 2}));
  Var<double> loss = losses::cosine_consistency(a, b, 1e-3);
  CHECK(loss.value()[0] == 1.0);
  tape.backward(loss);
  CHECK(a.grad()[0] == Approx(-1e3));  // −b / eps
  CHECK(a.grad()[1] == Approx(-2e3));
  CHECK(b.grad()[0] == 0.0);
}

TEST_CASE("cosine terms agree with a plain-loop reference on random shapes", "[losses][cosine]") {
  const Shape shapes[] = {{1, 4, 5, 7}, {3, 2, 9, 4}, {2, 3, 11}};
  unsigned seed = 40;
  for (const Shape& shape : shapes) {
    const Tensor<double> a = test::random_tensor<double>(shape, ++seed, 0.0, 1.0);
    const Tensor<double> b = test::random_tensor<double>(shape, ++seed, 0.0, 1.0);
    Tensor<float> af(shape), bf(shape);
    for (index_t i = 0; i < a.numel(); ++i) af[i] = float(a[i]), bf[i] = float(b[i]);
    Tape<float> tape;
    const double mean = reference_mean_cosine(a, b, 1e-8);
    CHECK(losses::cosine_consistency(tape.constant(af), tape.constant(bf)).value()[0] == Approx(1 - mean).epsilon(1e-5));
    CHECK(losses::cosine_invariance(tape.constant(af), tape.constant(bf)).value()[0] == Approx(-mean).epsilon(1e-5));
  }
}

TEST_CASE("cosine gradients reach both inputs and match finite differences", "[losses][cosine][gradcheck]") {
  const Shape shape{2, 3, 3, 4};
  auto consistency = [](Tape<double>&, const std::vector<Var<double>>& in) { return losses::cosine_consistency(in[0], in[1]); };
  auto invariance = [](Tape<double>&, const std::vector<Var<double>>& in) { return losses::cosine_invariance(in[0], in[1]); };
  // The same tensor on both sides (q built from p), as in the mix-consistency term.
  auto self = [](Tape<double>&, const std::vector<Var<double>>& in) { return losses::cosine_consistency(in[0], in[0]); };
  const Tensor<double> a = test::random_tensor<double>(shape, 1), b = test::random_tensor<double>(shape, 2);
  for (auto* fn : {+consistency, +invariance}) {
    auto result = autograd::gradcheck(fn, {a, b});
    INFO(result.report);
    CHECK(result.ok);
  }
  auto result = autograd::gradcheck(self, {a});
  INFO(result.report);
  CHECK(result.ok);
}

TEST_CASE("cosine terms reject mismatched shapes", "[losses][cosine]") {
  Tape<float> tape;
  CHECK_THROWS_WITH(losses::cosine_invariance(tape.constant(Tensor<float>(Shape{1, 2, 3})), tape.constant(Tensor<float>(Shape{1, 2, 4}))),
                    Catch::Contains("cosine_invariance: shapes [1, 2, 3] and [1, 2, 4] differ"));
  CHECK_THROWS_WITH(losses::cosine_consistency(tape.constant(Tensor<float>(Shape{3})), tape.constant(Tensor<float>(Shape{3}))),
                    Catch::Contains("[N, C, ...]"));
}
