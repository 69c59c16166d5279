#include "modelmix/ops/concat.hpp"
#include "modelmix/ops/reduce.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("concat_channels stacks inputs along axis 1", "[ops][concat]", float, double) {
  using T = TestType;
  std::mt19937 rng(5);
  for (int draw = 0; draw < 4; ++draw) {
    const Shape s = test::random_nchw(rng, draw);
    const Shape s2{s[0], s[1] + 2, s[2], s[3]}, s3{s[0], 1, s[2], s[3]};
    INFO("shape " << s);
    const Tensor<T> a = test::random_tensor<T>(s, 1), b = test::random_tensor<T>(s2, 2), c = test::random_tensor<T>(s3, 3);
    Tape<T> tape;
    const Tensor<T>& y = ops::concat_channels({tape.constant(a), tape.constant(b), tape.constant(c)}).value();
    REQUIRE(y.shape() == Shape{s[0], s[1] + s2[1] + 1, s[2], s[3]});
    for (index_t n = 0; n < s[0]; ++n)
      for (index_t ch = 0; ch < y.dim(1); ++ch)
        for (index_t h = 0; h < s[2]; ++h)
          for (index_t w = 0; w < s[3]; ++w) {
            const T expected = ch < s[1]            ? a(n, ch, h, w)
                               : ch < s[1] + s2[1] ? b(n, ch - s[1], h, w)
                                                   : c(n, ch - s[1] - s2[1], h, w);
            REQUIRE(y(n, ch, h, w) == expected);
          }
  }
}

TEST_CASE("concat_channels gradient matches finite differences", "[ops][concat][gradcheck]") {
  using V = std::vector<Var<double>>;
  test::require_gradients_match(
      [](Tape<double>&, const V& in) { return ops::concat_channels(in); },
      {test::random_tensor(Shape{2, 1, 3, 3}, 1), test::random_tensor(Shape{2, 3, 3, 3}, 2)});
  // Only some inputs need gradients: a constant in the middle must be skipped cleanly.
  test::require_gradients_match(
      [](Tape<double>& tape, const V& in) {
        Var<double> skip = tape.constant(Tensor<double>(Shape{1, 2, 3, 5}, 0.5));
        return ops::concat_channels({skip, in[0], skip});
      },
      {test::random_tensor(Shape{1, 1, 3, 5}, 3)});
}

TEST_CASE("concat_channels reports incompatible inputs", "[ops][concat]") {
  Tape<float> tape, other;
  Var<float> a = tape.constant(Tensor<float>(Shape{1, 2, 4, 4})), b = tape.constant(Tensor<float>(Shape{1, 2, 4, 5}));
  CHECK_THROWS_WITH(ops::concat_channels({a, b}),
                    Catch::Contains("concat_channels: input 1 has shape [1, 2, 4, 5], input 0 has [1, 2, 4, 4]"));
  CHECK_THROWS_WITH(ops::concat_channels({a, other.constant(Tensor<float>(Shape{1, 2, 4, 4}))}),
                    Catch::Contains("different tape"));
  CHECK_THROWS_WITH(ops::concat_channels(std::span<const Var<float>>()), Catch::Contains("concat_channels: no inputs"));
}

TEST_CASE("concat_channels copies and scatters exactly across the parallel chunks", "[ops][concat]") {
  // Large enough to run in parallel chunks of 2^14 elements whose edges fall inside blocks and
  // samples; a repeated input takes the assigned (first) and the added (second) gradient.
  using T = double;
  const Tensor<T> a = test::random_tensor<T>(Shape{3, 5, 37, 41}, 1), b = test::random_tensor<T>(Shape{3, 7, 37, 41}, 2);
  const Tensor<T> weight = test::random_tensor<T>(Shape{3, 17, 37, 41}, 3);
  Tape<T> tape;
  Parameter<T> pa(a), pb(b);
  const Var<T> u = ops::scale(tape.parameter(pa), 1.0), v = ops::scale(tape.parameter(pb), 1.0);
  const Var<T> y = ops::concat_channels({u, v, u});
  const index_t plane = 37 * 41;
  for (index_t n = 0; n < 3; ++n)
    for (index_t ch = 0; ch < 17; ++ch)
      for (index_t i = 0; i < plane; ++i) {
        const T expected = ch < 5 ? a[(n * 5 + ch) * plane + i] : ch < 12 ? b[(n * 7 + ch - 5) * plane + i]
                                                                       : a[(n * 5 + ch - 12) * plane + i];
        REQUIRE(y.value()[(n * 17 + ch) * plane + i] == expected);
      }
  tape.backward(ops::sum(ops::mul(y, tape.constant(weight))));
  for (index_t n = 0; n < 3; ++n)
    for (index_t i = 0; i < plane; ++i) {
      for (index_t ch = 0; ch < 5; ++ch)
        REQUIRE(pa.grad[(n * 5 + ch) * plane + i] ==
                weight[(n * 17 + ch) * plane + i] + weight[(n * 17 + ch + 12) * plane + i]);
      for (index_t ch = 0; ch < 7; ++ch)
        REQUIRE(pb.grad[(n * 7 + ch) * plane + i] == weight[(n * 17 + ch + 5) * plane + i]);
    }
}
