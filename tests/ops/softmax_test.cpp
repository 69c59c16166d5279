#include "modelmix/ops/reference/softmax.hpp"
#include "modelmix/ops/softmax.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("softmax_channels matches the reference", "[ops][softmax]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  std::mt19937 rng(6);
  for (int draw = 0; draw < 5; ++draw) {
    const Shape s = test::random_nchw(rng, draw);
    INFO("shape " << s);
    const Tensor<T> x = test::random_tensor<T>(s, 70 + draw, T(-4), T(4));
    Tape<T> tape;
    const Tensor<T>& y = ops::softmax_channels(tape.constant(x)).value();
    CHECK(test::max_relative_error(y, ops::reference::softmax_channels(x)) <= tol);
  }
  // More positions than one work block (2048) per sample.
  const Tensor<T> big = test::random_tensor<T>(Shape{2, 3, 47, 53}, 9, T(-4), T(4));
  Tape<T> tape;
  CHECK(test::max_relative_error(ops::softmax_channels(tape.constant(big)).value(),
                                 ops::reference::softmax_channels(big)) <= tol);
}

TEST_CASE("softmax_channels is stable for large logits", "[ops][softmax]") {
  Tape<float> tape;
  Var<float> x = tape.constant(Tensor<float>(Shape{1, 3, 1, 2}, std::vector<float>{1000, -1000, 999, -1001, 998, -1002}));
  const Tensor<float>& y = ops::softmax_channels(x).value();
  const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  CHECK(y(0, 0, 0, 0) == Approx(1 / z));
  CHECK(y(0, 2, 0, 1) == Approx(std::exp(-2.0) / z));
  CHECK(y(0, 0, 0, 1) == Approx(1 / z));
}

TEST_CASE("softmax_channels gradient matches finite differences", "[ops][softmax][gradcheck]") {
  test::require_gradients_match(
      [](Tape<double>&, const std::vector<Var<double>>& in) { return ops::softmax_channels(in[0]); },
      {test::random_tensor(Shape{2, 4, 3, 5}, 8, -2.0, 2.0)});
}

TEST_CASE("softmax_channels needs a channel axis", "[ops][softmax]") {
  Tape<float> tape;
  CHECK_THROWS_WITH(ops::softmax_channels(tape.constant(Tensor<float>(Shape{5}))),
                    Catch::Contains("softmax_channels: needs a channel axis (rank >= 2), got shape [5]"));
}
