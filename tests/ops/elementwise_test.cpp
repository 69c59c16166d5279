#include <cmath>

#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("elementwise ops match plain loops", "[ops][elementwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(1);
  for (int draw = 0; draw < 4; ++draw) {
    const Shape s = test::random_nchw(rng, draw);
    INFO("shape " << s);
    const Tensor<T> a = test::random_tensor<T>(s, 10 + draw), b = test::random_tensor<T>(s, 20 + draw);
    const Tensor<T> positive = test::random_tensor<T>(s, 30 + draw, T(0.1), T(3));
    Tape<T> tape;
    Var<T> va = tape.constant(a), vb = tape.constant(b), vp = tape.constant(positive);
    const Tensor<T>&add = ops::add(va, vb).value(), &sub = ops::sub(va, vb).value(), &mul = ops::mul(va, vb).value();
    const Tensor<T>&scaled = ops::scale(va, 2.5).value(), &shifted = ops::add_scalar(va, -0.75).value();
    const Tensor<T>&logged = ops::log(vp).value(), &logged_eps = ops::log(vp, 0.5).value();
    for (index_t i = 0; i < a.numel(); ++i) {
      CHECK(add[i] == a[i] + b[i]);
      CHECK(sub[i] == a[i] - b[i]);
      CHECK(mul[i] == a[i] * b[i]);
      CHECK(scaled[i] == T(2.5) * a[i]);
      CHECK(shifted[i] == a[i] + T(-0.75));
      CHECK(logged[i] == std::log(positive[i]));
      CHECK(logged_eps[i] == std::log(positive[i] + T(0.5)));
    }
  }
}

TEST_CASE("elementwise gradients match finite differences", "[ops][elementwise][gradcheck]") {
  const Shape s{1, 2, 3, 5};
  const Tensor<double> a = test::random_tensor(s, 1), b = test::random_tensor(s, 2);
  using V = std::vector<Var<double>>;
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::add(in[0], in[1]); }, {a, b});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::sub(in[0], in[1]); }, {a, b});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::mul(in[0], in[1]); }, {a, b});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::mul(in[0], in[0]); }, {a});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::scale(in[0], -1.5); }, {a});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::add_scalar(in[0], 3.0); }, {a});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::log(in[0], 1e-3); },
                                {test::random_tensor(s, 3, 0.2, 2.0)});
}

TEST_CASE("a constant operand gets no gradient, the other one does", "[ops][elementwise]") {
  Tape<double> tape;
  Var<double> x = tape.variable(Tensor<double>(Shape{3}, std::vector<double>{1, 2, 3}));
  Var<double> c = tape.constant(Tensor<double>(Shape{3}, std::vector<double>{4, 5, 6}));
  tape.backward(ops::sum(ops::mul(x, c)));
  CHECK(x.grad()[1] == 5.0);
  CHECK_FALSE(c.requires_grad());
}

TEST_CASE("elementwise ops reject mismatched shapes", "[ops][elementwise]") {
  Tape<float> tape;
  Var<float> a = tape.constant(Tensor<float>(Shape{2, 3})), b = tape.constant(Tensor<float>(Shape{3, 2}));
  CHECK_THROWS_WITH(ops::add(a, b), Catch::Contains("add: operand shapes differ: [2, 3] and [3, 2]"));
  CHECK_THROWS_WITH(ops::sub(a, b), Catch::Contains("sub: operand shapes differ"));
  CHECK_THROWS_WITH(ops::mul(a, b), Catch::Contains("mul: operand shapes differ"));
  Tape<float> other;
  Var<float> c = other.constant(Tensor<float>(Shape{2, 3}));
  CHECK_THROWS_WITH(ops::add(a, c), Catch::Contains("add: inputs come from different tapes"));
}
