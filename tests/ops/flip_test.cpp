#include "modelmix/ops/flip.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("flip reverses one axis", "[ops][flip]", float, double) {
  using T = TestType;
  std::mt19937 rng(9);
  for (int draw = 0; draw < 3; ++draw) {
    const Shape s = test::random_nchw(rng, draw);
    const Tensor<T> x = test::random_tensor<T>(s, 100 + draw);
    for (int axis = -1; axis < 4; ++axis) {
      INFO("shape " << s << " axis " << axis);
      Tape<T> tape;
      const Tensor<T>& y = ops::flip(tape.constant(x), axis).value();
      const int a = axis < 0 ? 3 : axis;
      for (index_t n = 0; n < s[0]; ++n)
        for (index_t c = 0; c < s[1]; ++c)
          for (index_t h = 0; h < s[2]; ++h)
            for (index_t w = 0; w < s[3]; ++w) {
              index_t i[4] = {n, c, h, w};
              i[a] = s[a] - 1 - i[a];
              REQUIRE(y(n, c, h, w) == x(i[0], i[1], i[2], i[3]));
            }
    }
  }
}

TEST_CASE("flip gradient matches finite differences", "[ops][flip][gradcheck]") {
  const Tensor<double> x = test::random_tensor(Shape{2, 3, 3, 5}, 1);
  for (int axis = 0; axis < 4; ++axis)
    test::require_gradients_match(
        [axis](Tape<double>&, const std::vector<Var<double>>& in) { return ops::flip(in[0], axis); }, {x});
}

TEST_CASE("flip rejects an axis out of range", "[ops][flip]") {
  Tape<float> tape;
  Var<float> x = tape.constant(Tensor<float>(Shape{2, 3}));
  CHECK_THROWS_WITH(ops::flip(x, 2), Catch::Contains("flip: axis 2 is out of range for shape [2, 3]"));
  CHECK_THROWS_WITH(ops::flip(x, -3), Catch::Contains("flip: axis -3"));
}
