#include <cstdint>

#include "modelmix/ops/reference/rotate.hpp"
#include "modelmix/ops/rotate.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEMPLATE_TEST_CASE("rotate_planes matches the reference at arbitrary angles", "[ops][rotate]", float, double,
                   std::uint8_t) {
  using T = TestType;
  std::mt19937 rng(10);
  std::uniform_real_distribution<double> angle(0.5, 359.5);
  for (int draw = 0; draw < 6; ++draw) {
    const Shape s = test::random_nchw(rng, draw, 13);
    const double degrees = angle(rng);
    INFO("shape " << s << " angle " << degrees);
    Tensor<T> x(s);
    for (index_t i = 0; i < x.numel(); ++i) x[i] = T(i % 97);
    const Tensor<T> y = ops::rotate_planes(x, degrees, T(4));
    CHECK(y.storage() == ops::reference::rotate_planes(x, degrees, T(4)).storage());
  }
}

TEST_CASE("rotation by multiples of 90 degrees permutes pixels exactly, counter-clockwise", "[ops][rotate]") {
  const index_t N = 5;
  Tensor<int> x(Shape{2, N, N});
  for (index_t i = 0; i < x.numel(); ++i) x[i] = int(i);
  const Tensor<int> r90 = ops::rotate_planes(x, 90.0, -1);
  const Tensor<int> r180 = ops::rotate_planes(x, 180.0, -1), r270 = ops::rotate_planes(x, -90.0, -1);
  for (index_t p = 0; p < 2; ++p)
    for (index_t i = 0; i < N; ++i)
      for (index_t j = 0; j < N; ++j) {
        CHECK(r90(p, i, j) == x(p, j, N - 1 - i));  // np.rot90: the right column becomes the top row
        CHECK(r180(p, i, j) == x(p, N - 1 - i, N - 1 - j));
        CHECK(r270(p, i, j) == x(p, N - 1 - j, i));
      }
  CHECK(ops::rotate_planes(x, 0.0, -1).storage() == x.storage());
  CHECK(ops::rotate_planes(x, 360.0, -1).storage() == x.storage());
  CHECK(ops::rotate_planes(x, 450.0, -1).storage() == r90.storage());

  // 180° is exact for any H, W (the centre sits on the half-grid).
  Tensor<int> odd(Shape{4, 7});
  for (index_t i = 0; i < odd.numel(); ++i) odd[i] = int(i);
  const Tensor<int> flipped = ops::rotate_planes(odd, 180.0, -1);
  for (index_t i = 0; i < 4; ++i)
    for (index_t j = 0; j < 7; ++j) CHECK(flipped(i, j) == odd(3 - i, 6 - j));
}

TEST_CASE("rotating labels fills invented pixels with the given value", "[ops][rotate]") {
  Tensor<std::uint8_t> labels(Shape{1, 9, 9}, std::uint8_t(2));
  const Tensor<std::uint8_t> rotated = ops::rotate_planes(labels, 45.0, std::uint8_t(4));
  CHECK(rotated(0, 0, 0) == 4);  // a corner rotated in from outside
  CHECK(rotated(0, 8, 8) == 4);
  CHECK(rotated(0, 4, 4) == 2);  // the centre is fixed
  CHECK(rotated(0, 0, 4) == 2);  // the inscribed disc stays inside
  std::vector<std::uint8_t> plane(81);
  ops::rotate_plane<std::uint8_t>(labels.span(), plane, 9, 9, 45.0, 4);
  CHECK(plane == rotated.storage());
  std::vector<std::uint8_t> too_small(80);
  CHECK_THROWS_WITH(ops::rotate_plane<std::uint8_t>(labels.span(), too_small, 9, 9, 45.0, 4),
                    Catch::Contains("rotate_plane: buffers of 81 and 80 elements for a 9×9 plane"));
}

TEST_CASE("rotating by theta and back is the identity up to one pixel inside the disc", "[ops][rotate]") {
  // Pixel values encode their own position, so the round trip's displacement can be read off.
  const index_t H = 31, W = 35;
  Tensor<double> x(Shape{1, 1, H, W});
  for (index_t i = 0; i < x.numel(); ++i) x[i] = double(i);
  index_t moved = 0;
  for (double degrees : {13.0, 37.0, 71.5, 200.0}) {
    INFO("angle " << degrees);
    const Tensor<double> back = ops::rotate_planes(ops::rotate_planes(x, degrees, -1.0), -degrees, -1.0);
    index_t inside = 0, exact = 0;
    for (index_t i = 0; i < H; ++i)
      for (index_t j = 0; j < W; ++j) {
        const double di = double(i) - (H - 1) / 2.0, dj = double(j) - (W - 1) / 2.0;
        if (di * di + dj * dj > 13.0 * 13.0) continue;
        ++inside;
        const index_t src = index_t(back(0, 0, i, j));
        REQUIRE(src >= 0);
        CHECK(std::abs(src / W - i) <= 1);
        CHECK(std::abs(src % W - j) <= 1);
        exact += src == i * W + j;
      }
    CHECK(double(exact) / double(inside) > 0.4);
    moved += inside - exact;
  }
  CHECK(moved > 0);  // not the identity (37° happens to be: cos, sin ≈ 4/5, 3/5)
}

TEST_CASE("the rotate op gathers forward and scatters backward", "[ops][rotate][gradcheck]") {
  const Tensor<double> x = test::random_tensor(Shape{2, 2, 7, 9}, 11);
  Tape<double> tape;
  const Tensor<double>& y = ops::rotate(tape.constant(x), 37.0, 0.5).value();
  CHECK(y.storage() == ops::reference::rotate_planes(x, 37.0, 0.5).storage());
  Tape<float> ftape;
  CHECK(ops::rotate(ftape.constant(Tensor<float>(Shape{1, 1, 9, 9}, 1.0f)), 45.0f).value()(0, 0, 0, 0) == 0.0f);
  // The map does not depend on x, so the op is linear and central differences are exact.
  test::require_gradients_match(
      [](Tape<double>&, const std::vector<Var<double>>& in) { return ops::rotate(in[0], 37.0, 0.25); },
      {test::random_tensor(Shape{1, 2, 5, 7}, 12)});
  test::require_gradients_match(
      [](Tape<double>&, const std::vector<Var<double>>& in) { return ops::rotate(in[0], 90.0); },
      {test::random_tensor(Shape{1, 1, 4, 6}, 13)});
}

TEST_CASE("rotate needs two spatial axes", "[ops][rotate]") {
  Tape<float> tape;
  CHECK_THROWS_WITH(ops::rotate(tape.constant(Tensor<float>(Shape{5})), 30.0f),
                    Catch::Contains("rotate: needs at least two axes (H, W), got shape [5]"));
  CHECK_THROWS_WITH(ops::rotate_planes(Tensor<float>(Shape{5}), 30.0, 0.0f), Catch::Contains("rotate_planes: needs"));
}
