#include "modelmix/ops/reference/upsample.hpp"
#include "modelmix/ops/upsample.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("2x upsampling matches the reference", "[ops][upsample]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  std::mt19937 rng(4);
  for (int draw = 0; draw < 6; ++draw) {
    const Shape s = test::random_nchw(rng, draw);
    INFO("shape " << s);
    const Tensor<T> x = test::random_tensor<T>(s, 60 + draw);
    Tape<T> tape;
    Var<T> v = tape.constant(x);
    const Tensor<T>& nearest = ops::upsample_nearest2x(v).value();
    const Tensor<T>& bilinear = ops::upsample_bilinear2x(v).value();
    CHECK(nearest.shape() == Shape{s[0], s[1], 2 * s[2], 2 * s[3]});
    CHECK(test::max_relative_error(nearest, ops::reference::upsample_nearest2x(x)) == 0.0);
    CHECK(test::max_relative_error(bilinear, ops::reference::upsample_bilinear2x(x)) <= tol);
  }
}

TEST_CASE("bilinear 2x upsampling reproduces PyTorch align_corners=False", "[ops][upsample]") {
  // F.interpolate(torch.tensor([[[[1., 2], [3, 4]]]]), scale_factor=2, mode="bilinear", align_corners=False)
  Tape<double> tape;
  Var<double> x = tape.constant(Tensor<double>(Shape{1, 1, 2, 2}, std::vector<double>{1, 2, 3, 4}));
  const std::vector<double> expected{1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5,
                                     2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0};
  CHECK(ops::upsample_bilinear2x(x).value().storage() == expected);
  // A 1×1 plane stays constant.
  Var<double> one = tape.constant(Tensor<double>(Shape{1, 1, 1, 1}, 7.0));
  CHECK(ops::upsample_bilinear2x(one).value().storage() == std::vector<double>(4, 7.0));
}

TEST_CASE("upsampling gradients match finite differences", "[ops][upsample][gradcheck]") {
  const Tensor<double> x = test::random_tensor(Shape{2, 2, 3, 5}, 6);
  using V = std::vector<Var<double>>;
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::upsample_nearest2x(in[0]); }, {x});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::upsample_bilinear2x(in[0]); }, {x});
  test::require_gradients_match([](Tape<double>&, const V& in) { return ops::upsample_bilinear2x(in[0]); },
                                {test::random_tensor(Shape{1, 1, 1, 2}, 7)});
}

TEST_CASE("upsampling rejects non-NCHW inputs", "[ops][upsample]") {
  Tape<float> tape;
  Var<float> x = tape.constant(Tensor<float>(Shape{4, 4}));
  CHECK_THROWS_WITH(ops::upsample_nearest2x(x), Catch::Contains("upsample_nearest2x: expected an NCHW tensor"));
  CHECK_THROWS_WITH(ops::upsample_bilinear2x(x), Catch::Contains("upsample_bilinear2x: expected an NCHW tensor (rank 4), got shape [4, 4]"));
}
