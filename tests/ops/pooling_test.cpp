#include "modelmix/ops/pooling.hpp"
#include "modelmix/ops/reduce.hpp"
#include "modelmix/ops/reference/pooling.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("max_pool2d matches the reference, floor for odd sizes", "[ops][pooling]", float, double) {
  using T = TestType;
  std::mt19937 rng(3);
  for (int draw = 0; draw < 6; ++draw) {
    const Shape s = test::random_nchw(rng, draw, 11);
    INFO("shape " << s);
    const Tensor<T> x = test::random_tensor<T>(s, 50 + draw);
    Tape<T> tape;
    const Tensor<T>& y = ops::max_pool2d(tape.constant(x)).value();
    CHECK(y.shape() == Shape{s[0], s[1], s[2] / 2, s[3] / 2});
    CHECK(test::max_relative_error(y, ops::reference::max_pool2d(x)) == 0.0);
  }
}

TEST_CASE("max_pool2d gradient matches finite differences", "[ops][pooling][gradcheck]") {
  // Distinct, well-separated values: the argmax cannot move under the checker's ε.
  test::require_gradients_match(
      [](Tape<double>&, const std::vector<Var<double>>& in) { return ops::max_pool2d(in[0]); },
      {test::distinct_tensor(Shape{2, 2, 5, 7}, 3)});
}

TEST_CASE("max_pool2d sends a tied window's gradient to its first maximum only", "[ops][pooling]") {
  Tape<double> tape;
  // One 2×2 window, all equal; a second window with the max repeated at positions 1 and 3.
  Var<double> x = tape.variable(Tensor<double>(Shape{1, 1, 2, 4}, std::vector<double>{1, 1, 0, 5, 1, 1, 2, 5}));
  tape.backward(ops::sum(ops::max_pool2d(x)));
  CHECK(x.grad().storage() == std::vector<double>{1, 0, 0, 1, 0, 0, 0, 0});
}

TEST_CASE("max_pool2d rejects inputs it cannot pool", "[ops][pooling]") {
  Tape<float> tape;
  CHECK_THROWS_WITH(ops::max_pool2d(tape.constant(Tensor<float>(Shape{3, 4, 4}))),
                    Catch::Contains("max_pool2d: expected an NCHW tensor (rank 4), got shape [3, 4, 4]"));
  CHECK_THROWS_WITH(ops::max_pool2d(tape.constant(Tensor<float>(Shape{1, 1, 1, 4}))),
                    Catch::Contains("smaller than the 2×2 window"));
}
