#include <catch2/catch.hpp>

#include <cmath>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/losses/partial_cross_entropy.hpp"
#include "losses/random_targets.hpp"

using namespace modelmix;

namespace {
using test::random_labels;
using test::random_probabilities;

// Plain per-pixel reference: cross-entropy of each labeled pixel, averaged over labeled pixels.
double reference_pce(const Tensor<double>& p, const Tensor<double>& y, double eps) {
  const index_t n = p.dim(0), c = p.dim(1), h = p.dim(2), w = p.dim(3);
  double total = 0, pixels = 0;
  for (index_t b = 0; b < n; ++b)
    for (index_t i = 0; i < h; ++i)
      for (index_t j = 0; j < w; ++j) {
        double weight = 0, ce = 0;
        for (index_t k = 0; k < c; ++k) {
          weight += y(b, k, i, j);
          ce -= y(b, k, i, j) * std::log(p(b, k, i, j) + eps);
        }
        total += ce;
        pixels += weight;
      }
  return pixels > 0 ? total / pixels : 0;
}
}  // namespace

TEST_CASE("one_hot turns a label map into targets with zero vectors at ignored pixels", "[losses]") {
  Tensor<std::uint8_t> labels(Shape{1, 1, 3}, std::vector<std::uint8_t>{0, 4, 2});
  Tensor<float> y = losses::one_hot<float>(labels, 3, 4);
  REQUIRE(y.shape() == Shape{1, 3, 1, 3});
  const std::vector<float> expected{1, 0, 0, /*c1*/ 0, 0, 0, /*c2*/ 0, 0, 1};
  CHECK(y.storage() == expected);

  CHECK_THROWS_WITH(losses::one_hot<float>(labels, 2, 4), Catch::Contains("label 2 at (n=0, h=0, w=2)"));
  CHECK_THROWS_WITH(losses::one_hot<float>(labels, 3, -1), Catch::Contains("label 4"));
  CHECK_THROWS_WITH(losses::one_hot<float>(Tensor<std::uint8_t>(Shape{3}), 3, 4), Catch::Contains("[N, H, W]"));
}

TEST_CASE("pce matches a hand-computed value and gradient", "[losses][pce]") {
  // One image, 2 classes, 3 pixels: class 0, class 1, unlabeled.
  Tensor<double> p(Shape{1, 2, 1, 3}, std::vector<double>{0.8, 0.3, 0.5, /*c1*/ 0.2, 0.7, 0.5});
  Tensor<double> y = losses::one_hot<double>(Tensor<std::uint8_t>(Shape{1, 1, 3}, std::vector<std::uint8_t>{0, 1, 4}), 2, 4);
  Tape<double> tape;
  Var<double> pv = tape.variable(p);
  Var<double> loss = losses::pce(pv, tape.constant(y), 0.0);
  CHECK(loss.value()[0] == Approx(-(std::log(0.8) + std::log(0.7)) / 2).epsilon(1e-14));
  CHECK(loss.value()[0] == Approx(0.289909245).epsilon(1e-8));
  tape.backward(loss);
  const std::vector<double> grad{-1 / (0.8 * 2), 0, 0, /*c1*/ 0, -1 / (0.7 * 2), 0};
  for (index_t i = 0; i < 6; ++i) CHECK(pv.grad()[i] == Approx(grad[static_cast<std::size_t>(i)]).epsilon(1e-14));
}

TEST_CASE("pce with no scribbled pixel is 0 with a zero gradient", "[losses][pce]") {
  Tape<float> tape;
  Var<float> p = tape.variable(Tensor<float>(Shape{2, 3, 2, 2}, 1.0f / 3));
  Var<float> loss = losses::pce(p, tape.constant(Tensor<float>(Shape{2, 3, 2, 2})));
  CHECK(loss.value()[0] == 0.0f);
  tape.backward(loss);
  for (float g : p.grad().span()) CHECK(g == 0.0f);
}

TEST_CASE("pce agrees with a per-pixel reference on random shapes", "[losses][pce]") {
  const Shape shapes[] = {{1, 4, 5, 7}, {3, 2, 9, 4}, {2, 5, 1, 1}};
  unsigned seed = 10;
  for (const Shape& shape : shapes) {
    const Tensor<double> p = random_probabilities(shape, ++seed);
    const Tensor<double> y = losses::one_hot<double>(random_labels(Shape{shape[0], shape[2], shape[3]}, int(shape[1]), 255, ++seed),
                                                     int(shape[1]), 255);
    Tape<float> tape;
    const float loss = losses::pce(tape.constant(test::to_float(p)), tape.constant(test::to_float(y)), 1e-6).value()[0];
    CHECK(loss == Approx(reference_pce(p, y, 1e-6)).epsilon(1e-5));
  }
}

TEST_CASE("pce gradients match finite differences (probabilities and soft targets)", "[losses][pce][gradcheck]") {
  const Shape shape{3, 4, 3, 5};
  const Tensor<double> p = random_probabilities(shape, 3);
  // Soft targets with unlabeled pixels, as after mixup.
  Tensor<double> y = losses::one_hot<double>(random_labels(Shape{3, 3, 5}, 4, 9, 4), 4, 9);
  for (index_t i = 0; i < y.numel(); ++i) y[i] *= 0.7;
  auto both = [](Tape<double>&, const std::vector<Var<double>>& in) { return losses::pce(in[0], in[1], 1e-3); };
  auto result = autograd::gradcheck(both, {p, y});
  INFO(result.report);
  CHECK(result.ok);

  auto targets_constant = [&y](Tape<double>& tape, const std::vector<Var<double>>& in) {
    return losses::pce(in[0], tape.constant(y));
  };
  auto constant_result = autograd::gradcheck(targets_constant, {p});
  INFO(constant_result.report);
  CHECK(constant_result.ok);
}

TEST_CASE("pce rejects mismatched inputs", "[losses][pce]") {
  Tape<float> tape;
  Var<float> p = tape.constant(Tensor<float>(Shape{1, 2, 3, 3}, 0.5f));
  CHECK_THROWS_WITH(losses::pce(p, tape.constant(Tensor<float>(Shape{1, 3, 3, 3}))),
                    Catch::Contains("pce: targets of shape [1, 3, 3, 3] do not match probabilities [1, 2, 3, 3]"));
  CHECK_THROWS_WITH(losses::pce(tape.constant(Tensor<float>(Shape{2, 3})), tape.constant(Tensor<float>(Shape{2, 3}))),
                    Catch::Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(losses::pce(p, p, -1.0), Catch::Contains("eps must be non-negative"));
}
