#include "modelmix/ops/reduce.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("sum and mean reduce to shape [1]", "[ops][reduce]", float, double) {
  using T = TestType;
  std::mt19937 rng(7);
  for (int draw = 0; draw < 4; ++draw) {
    const Tensor<T> x = test::random_tensor<T>(test::random_nchw(rng, draw), 80 + draw);
    long double total = 0;
    for (T v : x.span()) total += v;
    Tape<T> tape;
    Var<T> v = tape.constant(x);
    CHECK(ops::sum(v).shape() == Shape{1});
    CHECK(double(ops::sum(v).value()[0]) == Approx(double(total)).epsilon(1e-6));
    CHECK(double(ops::mean(v).value()[0]) == Approx(double(total / x.numel())).epsilon(1e-6));
  }
  // Accumulated in double: a float running sum would stay at 2^24 after adding 1s to it.
  Tensor<T> x(Shape{101}, T(1));
  x[0] = T(1 << 24);
  Tape<T> tape;
  CHECK(ops::sum(tape.constant(x)).value()[0] == T((1 << 24) + 100));
}

TEST_CASE("reduction gradients match finite differences", "[ops][reduce][gradcheck]") {
  const Tensor<double> x = test::random_tensor(Shape{2, 3, 2, 3}, 9);
  using V = std::vector<Var<double>>;
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::sum(in[0]); }, {x});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::mean(in[0]); }, {x});
}

TEST_CASE("mean of an empty tensor is an error", "[ops][reduce]") {
  Tape<float> tape;
  CHECK_THROWS_WITH(ops::mean(tape.constant(Tensor<float>(Shape{0, 3}))), Catch::Contains("mean: the input of shape [0, 3] has no elements"));
}
