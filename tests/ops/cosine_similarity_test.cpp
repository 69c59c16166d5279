#include "modelmix/ops/cosine_similarity.hpp"
#include "modelmix/ops/reference/cosine_similarity.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("cosine_similarity matches the reference for every reduced-axis split", "[ops][cosine]", float,
                   double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  std::mt19937 rng(8);
  for (int draw = 0; draw < 4; ++draw) {
    const Shape s = test::random_nchw(rng, draw);
    const Tensor<T> a = test::random_tensor<T>(s, 90 + draw), b = test::random_tensor<T>(s, 95 + draw);
    for (int k = 0; k < 4; ++k) {
      INFO("shape " << s << " first reduced axis " << k);
      Tape<T> tape;
      const Tensor<T>& y = ops::cosine_similarity(tape.constant(a), tape.constant(b), k).value();
      const Tensor<T> expected = ops::reference::cosine_similarity(a, b, k);
      CHECK(y.shape() == expected.shape());
      CHECK(test::max_relative_error(y, expected) <= tol);
    }
  }
  Tape<T> tape;
  const Tensor<T> x = test::random_tensor<T>(Shape{2, 3, 5, 5}, 1);
  CHECK(ops::cosine_similarity(tape.constant(x), tape.constant(x), 2).shape() == Shape{2, 3});
  CHECK(ops::cosine_similarity(tape.constant(x), tape.constant(x), 0).shape() == Shape{1});
}

TEST_CASE("cosine_similarity clamps the product of the norms at eps", "[ops][cosine]") {
  Tape<double> tape;
  Var<double> a = tape.constant(Tensor<double>(Shape{1, 2}, std::vector<double>{1e-5, 0}));
  Var<double> b = tape.constant(Tensor<double>(Shape{1, 2}, std::vector<double>{2e-5, 0}));
  // ‖a‖‖b‖ = 2e-10 < ε = 1e-8, so y = a·b / ε = 2e-10 / 1e-8 = 0.02 (not 1).
  CHECK(ops::cosine_similarity(a, b, 1).value()[0] == Approx(0.02));
  CHECK(ops::cosine_similarity(a, b, 1, 1e-12).value()[0] == Approx(1.0));
  Var<double> zero = tape.constant(Tensor<double>(Shape{1, 2}, 0.0));
  CHECK(ops::cosine_similarity(zero, zero, 1).value()[0] == 0.0);
}

TEST_CASE("cosine_similarity gradients match finite differences", "[ops][cosine][gradcheck]") {
  using V = std::vector<Var<double>>;
  const Tensor<double> a = test::random_tensor(Shape{2, 3, 3, 3}, 1), b = test::random_tensor(Shape{2, 3, 3, 3}, 2);
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::cosine_similarity(in[0], in[1], 2); },
                                {a, b});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::cosine_similarity(in[0], in[1], 0); },
                                {a, b});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::cosine_similarity(in[0], in[0], 1); },
                                {a});
  // The clamped branch: y = a·b/ε is bilinear.
  test::require_gradients_match(
      [](Tape<double>&, const V& in) { return ops::cosine_similarity(in[0], in[1], 1, 10.0); },
      {test::random_tensor(Shape{2, 3}, 3, -0.5, 0.5), test::random_tensor(Shape{2, 3}, 4, -0.5, 0.5)});
}

TEST_CASE("cosine_similarity reports bad arguments", "[ops][cosine]") {
  Tape<float> tape;
  Var<float> a = tape.constant(Tensor<float>(Shape{2, 3, 4, 4})), b = tape.constant(Tensor<float>(Shape{2, 3, 4, 5}));
  CHECK_THROWS_WITH(ops::cosine_similarity(a, b, 2), Catch::Contains("cosine_similarity: operand shapes differ: [2, 3, 4, 4] and [2, 3, 4, 5]"));
  CHECK_THROWS_WITH(ops::cosine_similarity(a, a, 4), Catch::Contains("first_reduced_axis 4 is outside [0, 4)"));
}
