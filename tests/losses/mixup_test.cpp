#include <catch2/catch.hpp>

#include <cmath>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/losses/mixup.hpp"
#include "support/random.hpp"

using namespace modelmix;

TEST_CASE("sample_beta is seeded and has the Beta(α, α) moments", "[losses][mixup]") {
  std::mt19937_64 a(42), b(42);
  CHECK(losses::sample_betas(5, 0.5, a) == losses::sample_betas(5, 0.5, b));

  for (double alpha : {0.5, 2.0}) {
    std::mt19937_64 rng(7);
    const int n = 20000;
    double sum = 0, sq = 0;
    int low = 0, outside = 0;
    for (double v : losses::sample_betas(n, alpha, rng)) {
      outside += v < 0.0 || v > 1.0;
      sum += v, sq += v * v, low += v < 0.1;
    }
    CHECK(outside == 0);
    const double mean = sum / n, var = sq / n - mean * mean;
    INFO("alpha " << alpha);
    CHECK(mean == Approx(0.5).margin(0.01));
    CHECK(var == Approx(1 / (4 * (2 * alpha + 1))).margin(0.004));  // Var Beta(α, α)
    if (alpha == 0.5) CHECK(double(low) / n == Approx(2 / M_PI * std::asin(std::sqrt(0.1))).margin(0.01));  // arcsine CDF
  }
  std::mt19937_64 rng(1);
  CHECK_THROWS_WITH(losses::sample_beta(0.0, rng), Catch::Contains("alpha must be positive"));
}

TEST_CASE("mix_with_reversed mixes each sample with its mirror in the batch", "[losses][mixup]") {
  const Tensor<double> x(Shape{3, 2}, std::vector<double>{1, 2, 3, 4, 5, 6});
  const std::vector<double> betas{0.25, 0.5, 1.0};
  const Tensor<double> mixed = losses::mix_with_reversed(x, betas);
  CHECK(mixed.storage() == std::vector<double>{4, 5, 3, 4, 5, 6});

  // The Var form: both uses of each sample receive gradient.
  Tape<double> tape;
  Var<double> xv = tape.variable(x);
  Var<double> out = losses::mix_with_reversed(xv, betas);
  CHECK(out.value().storage() == mixed.storage());
  Var<double> total = tape.record("sum", Tensor<double>(Shape{1}, 0.0), {out}, [&](const Tensor<double>& g) {
    for (double& v : tape.grad_slot(out)->span()) v += g[0];
  });
  tape.backward(total);
  // x0 feeds out0 (β0 = .25) and out2 (1 − β2 = 0); x2 feeds out2 (1) and out0 (.75).
  CHECK(xv.grad().storage() == std::vector<double>{0.25, 0.25, 1, 1, 1.75, 1.75});
}

TEST_CASE("mix_with_reversed gradients match finite differences", "[losses][mixup][gradcheck]") {
  const Shape shapes[] = {{4, 2, 3, 3}, {1, 3, 2, 2}, {3, 1, 5}};
  unsigned seed = 30;
  for (const Shape& shape : shapes) {
    std::mt19937_64 rng(++seed);
    const std::vector<double> betas = losses::sample_betas(shape[0], 0.5, rng);
    auto fn = [&](Tape<double>&, const std::vector<Var<double>>& in) { return losses::mix_with_reversed(in[0], betas); };
    auto result = autograd::gradcheck(fn, {test::random_tensor<double>(shape, ++seed)});
    INFO(result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("mix_with_reversed checks the number of coefficients", "[losses][mixup]") {
  const std::vector<double> betas{0.5, 0.5};
  CHECK_THROWS_WITH(losses::mix_with_reversed(Tensor<float>(Shape{3, 4}), betas),
                    Catch::Contains("2 mixing coefficients for a batch of 3"));
}
