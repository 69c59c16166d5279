#include "modelmix/ops/activation.hpp"
#include "modelmix/ops/batch_norm.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "modelmix/ops/reference/batch_norm.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("batch_norm2d training normalises with batch statistics and updates running stats",
                   "[ops][batch_norm]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  std::mt19937 rng(12);
  for (int draw = 0; draw < 5; ++draw) {
    const Shape s = test::random_nchw(rng, draw);
    const index_t C = s[1], M = s[0] * s[2] * s[3];
    INFO("shape " << s);
    const Tensor<T> x = test::random_tensor<T>(s, 110 + draw, T(-2), T(3));
    const Tensor<T> gamma = test::random_tensor<T>(Shape{C}, 120 + draw, T(0.5), T(1.5));
    const Tensor<T> beta = test::random_tensor<T>(Shape{C}, 130 + draw);
    Tensor<T> running_mean = test::random_tensor<T>(Shape{C}, 140 + draw);
    Tensor<T> running_var = test::random_tensor<T>(Shape{C}, 150 + draw, T(0.5), T(2));
    const Tensor<T> old_mean = running_mean, old_var = running_var;

    Tape<T> tape;
    const Tensor<T>& y = ops::batch_norm2d(tape.constant(x), tape.constant(gamma), tape.constant(beta),
                                           {running_mean, running_var}, true)
                             .value();
    const auto expected = ops::reference::batch_norm2d_train(x, gamma, beta, T(1e-5));
    CHECK(test::max_relative_error(y, expected.y) <= tol);
    for (index_t c = 0; c < C; ++c) {
      // PyTorch: momentum 0.1, unbiased variance in the running estimate.
      const double unbiased = double(expected.var[c]) * double(M) / double(M - 1);
      CHECK(double(running_mean[c]) == Approx(0.9 * double(old_mean[c]) + 0.1 * double(expected.mean[c])).epsilon(tol));
      CHECK(double(running_var[c]) == Approx(0.9 * double(old_var[c]) + 0.1 * unbiased).epsilon(tol));
    }

    // update_running_stats = false leaves them alone; the output is the same.
    const Tensor<T> kept_mean = running_mean;
    const Tensor<T>& y2 = ops::batch_norm2d(tape.constant(x), tape.constant(gamma), tape.constant(beta),
                                            {running_mean, running_var, T(0.1), T(1e-5), false}, true)
                              .value();
    CHECK(y2.storage() == y.storage());
    CHECK(running_mean.storage() == kept_mean.storage());

    // Eval uses the running statistics.
    const Tensor<T>& y_eval = ops::batch_norm2d(tape.constant(x), tape.constant(gamma), tape.constant(beta),
                                                {running_mean, running_var}, false)
                                  .value();
    const Tensor<T> expected_eval =
        ops::reference::batch_norm2d_with_stats(x, gamma, beta, running_mean, running_var, T(1e-5));
    CHECK(test::max_relative_error(y_eval, expected_eval) <= tol);
    CHECK(running_mean.storage() == kept_mean.storage());
  }
}

TEST_CASE("batch_norm2d with hand-computed statistics", "[ops][batch_norm]") {
  // One channel, values 1..4: μ = 2.5, σ² = 1.25 (biased), unbiased 5/3.
  Tensor<double> rm(Shape{1}, 0.0), rv(Shape{1}, 1.0);
  Tape<double> tape;
  Var<double> x = tape.constant(Tensor<double>(Shape{2, 1, 1, 2}, std::vector<double>{1, 2, 3, 4}));
  Var<double> gamma = tape.constant(Tensor<double>(Shape{1}, 2.0)), beta = tape.constant(Tensor<double>(Shape{1}, 0.5));
  const Tensor<double>& y = ops::batch_norm2d(x, gamma, beta, {rm, rv, 0.1, 0.0}, true).value();
  const double r = 1 / std::sqrt(1.25);
  CHECK(y[0] == Approx(2 * (1 - 2.5) * r + 0.5));
  CHECK(y[3] == Approx(2 * (4 - 2.5) * r + 0.5));
  CHECK(rm[0] == Approx(0.25));
  CHECK(rv[0] == Approx(0.9 + 0.1 * 5.0 / 3.0));
}

TEST_CASE("batch_norm2d gradients match finite differences", "[ops][batch_norm][gradcheck]") {
  const Shape s{2, 3, 3, 5};
  const Tensor<double> x = test::random_tensor(s, 1, -1.0, 2.0), gamma = test::random_tensor(Shape{3}, 2, 0.5, 1.5),
                       beta = test::random_tensor(Shape{3}, 3);
  for (bool training : {true, false}) {
    INFO("training " << training);
    Tensor<double> rm = test::random_tensor(Shape{3}, 4), rv = test::random_tensor(Shape{3}, 5, 0.5, 2.0);
    test::require_gradients_match(
        [&](Tape<double>&, const std::vector<Var<double>>& in) {
          return ops::batch_norm2d(in[0], in[1], in[2], {rm, rv, 0.1, 1e-5, false}, training);
        },
        {x, gamma, beta});
  }
  // Batch 1 with odd spatial size: the statistics come from one image.
  Tensor<double> rm(Shape{2}, 0.0), rv(Shape{2}, 1.0);
  test::require_gradients_match(
      [&](Tape<double>&, const std::vector<Var<double>>& in) {
        return ops::batch_norm2d(in[0], in[1], in[2], {rm, rv}, true);
      },
      {test::random_tensor(Shape{1, 2, 3, 3}, 6), test::random_tensor(Shape{2}, 7), test::random_tensor(Shape{2}, 8)});
}

TEST_CASE("batch_norm2d reports shape errors", "[ops][batch_norm]") {
  Tensor<float> rm(Shape{3}), rv(Shape{3}), rv_bad(Shape{4});
  Tape<float> tape;
  Var<float> x = tape.constant(Tensor<float>(Shape{2, 3, 4, 4}));
  Var<float> g3 = tape.constant(Tensor<float>(Shape{3}, 1.0f)), g2 = tape.constant(Tensor<float>(Shape{2}, 1.0f));
  CHECK_THROWS_WITH(ops::batch_norm2d(x, g2, g3, {rm, rv}, true),
                    Catch::Contains("batch_norm2d: gamma [2] and beta [3] must both be [3] for input [2, 3, 4, 4]"));
  CHECK_THROWS_WITH(ops::batch_norm2d(x, g3, g3, {rm, rv_bad}, true),
                    Catch::Contains("running_var [4] must both be [3]"));
  CHECK_THROWS_WITH(ops::batch_norm2d(tape.constant(Tensor<float>(Shape{1, 3, 1, 1})), g3, g3, {rm, rv}, true),
                    Catch::Contains("more than one value per channel"));
  CHECK_NOTHROW(ops::batch_norm2d(tape.constant(Tensor<float>(Shape{1, 3, 1, 1})), g3, g3, {rm, rv}, false));
  CHECK_THROWS_WITH(ops::batch_norm2d(tape.constant(Tensor<float>(Shape{3, 4})), g3, g3, {rm, rv}, true),
                    Catch::Contains("batch_norm2d: expected an NCHW tensor"));
}

TEST_CASE("batch_norm2d_relu gradients match finite differences", "[ops][batch_norm][gradcheck]") {
  for (bool training : {true, false}) {
    INFO("training " << training);
    Tensor<double> rm = test::random_tensor(Shape{3}, 21), rv = test::random_tensor(Shape{3}, 22, 0.5, 2.0);
    test::require_gradients_match(
        [&](Tape<double>&, const std::vector<Var<double>>& in) {
          return ops::batch_norm2d_relu(in[0], in[1], in[2], {rm, rv, 0.1, 1e-5, false}, training);
        },
        {test::distinct_tensor(Shape{2, 3, 3, 4}, 23, 0.05), test::random_tensor(Shape{3}, 24, 0.5, 1.5),
         test::random_tensor(Shape{3}, 25, -0.3, 0.3)});
  }
}

TEST_CASE("batch_norm2d_relu is batch_norm2d then relu, bit for bit, values and gradients",
          "[ops][batch_norm][fused]") {
  using T = float;
  for (bool training : {true, false}) {
    INFO("training " << training);
    const Shape s{4, 5, 12, 20};
    const Tensor<T> x0 = test::random_tensor<T>(s, 31, T(-2), T(3)), weights = test::random_tensor<T>(s, 32);
    Tensor<T> rm1 = test::random_tensor<T>(Shape{5}, 33), rv1 = test::random_tensor<T>(Shape{5}, 34, T(0.5), T(2));
    Tensor<T> rm2 = rm1, rv2 = rv1;
    struct result {
      Tensor<T> y, gx, ggamma, gbeta;
    };
    const auto run = [&](bool fused, Tensor<T>& rm, Tensor<T>& rv) {
      Parameter<T> x(x0), gamma(test::random_tensor<T>(Shape{5}, 35, T(0.5), T(1.5))),
          beta(test::random_tensor<T>(Shape{5}, 36, T(-0.5), T(0.5)));
      Tape<T> tape;
      const Var<T> xv = tape.parameter(x), gv = tape.parameter(gamma), bv = tape.parameter(beta);
      const Var<T> y = fused ? ops::batch_norm2d_relu(xv, gv, bv, {rm, rv}, training)
                             : ops::relu(ops::batch_norm2d(xv, gv, bv, {rm, rv}, training));
      tape.backward(ops::sum(ops::mul(y, tape.constant(weights))));
      return result{y.value(), x.grad, gamma.grad, beta.grad};
    };
    const result fused = run(true, rm1, rv1), plain = run(false, rm2, rv2);
    CHECK(fused.y.storage() == plain.y.storage());
    CHECK(fused.gx.storage() == plain.gx.storage());
    CHECK(fused.ggamma.storage() == plain.ggamma.storage());
    CHECK(fused.gbeta.storage() == plain.gbeta.storage());
    CHECK(rm1.storage() == rm2.storage());
    CHECK(rv1.storage() == rv2.storage());
    index_t zeros = 0;
    for (index_t i = 0; i < fused.y.numel(); ++i) zeros += fused.y[i] == T(0);
    CHECK(zeros > fused.y.numel() / 5);  // the ReLU cut a good share
  }
}
