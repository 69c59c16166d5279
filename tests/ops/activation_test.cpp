#include "modelmix/ops/activation.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("relu matches max(x, 0)", "[ops][activation]", float, double) {
  using T = TestType;
  std::mt19937 rng(2);
  for (int draw = 0; draw < 3; ++draw) {
    const Tensor<T> x = test::random_tensor<T>(test::random_nchw(rng, draw), 40 + draw);
    Tape<T> tape;
    const Tensor<T>& y = ops::relu(tape.constant(x)).value();
    REQUIRE(y.shape() == x.shape());
    for (index_t i = 0; i < x.numel(); ++i) CHECK(y[i] == (x[i] > 0 ? x[i] : T(0)));
  }
}

TEST_CASE("relu gradient matches finite differences away from 0", "[ops][activation][gradcheck]") {
  Tensor<double> x = test::random_tensor(Shape{1, 3, 5, 3}, 5);
  for (double& v : x.span()) v += v >= 0 ? 0.01 : -0.01;  // no kink within the checker's ε
  test::require_gradients_match([](Tape<double>&, const std::vector<Var<double>>& in) { return ops::relu(in[0]); },
                                {x});
}
