#include <catch2/catch.hpp>

#include "losses/random_targets.hpp"
#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/losses/dice.hpp"
#include "modelmix/losses/one_hot.hpp"

using namespace modelmix;

namespace {
// The tiny example: 2 classes, 3 pixels labeled class 0, class 1, unlabeled.
const Tensor<double> tiny_p(Shape{1, 2, 1, 3}, std::vector<double>{0.8, 0.3, 0.5, /*c1*/ 0.2, 0.7, 0.5});
const Tensor<double> tiny_y(Shape{1, 2, 1, 3}, std::vector<double>{1, 0, 0, /*c1*/ 0, 1, 0});

double dice_value(const Tensor<double>& p, const Tensor<double>& y, losses::dice_options options) {
  Tape<double> tape;
  return losses::dice(tape.constant(p), tape.constant(y), options).value()[0];
}

// Plain loops, one class at a time, straight from the formula in dice.hpp.
double reference_scribbled(const Tensor<double>& p, const Tensor<double>& y, double s) {
  const index_t n = p.dim(0), c = p.dim(1), h = p.dim(2), w = p.dim(3);
  double ratios = 0;
  int present = 0;
  for (index_t k = 0; k < c; ++k) {
    double inter = 0, psum = 0, ysum = 0;
    for (index_t b = 0; b < n; ++b)
      for (index_t i = 0; i < h; ++i)
        for (index_t j = 0; j < w; ++j) {
          double labeled = 0;
          for (index_t q = 0; q < c; ++q) labeled += y(b, q, i, j);
          if (labeled <= 0) continue;
          inter += p(b, k, i, j) * y(b, k, i, j);
          psum += p(b, k, i, j);
          ysum += y(b, k, i, j);
        }
    if (ysum > 0) ratios += (2 * inter + s) / (psum + ysum + s), ++present;
  }
  return present ? 1 - ratios / present : 0;
}

// The original code's multiDice, including its per-element smoothing of the numerator.
double reference_original(const Tensor<double>& p, const Tensor<double>& y) {
  double inter = 0, psum = 0, ysum = 0;
  for (index_t i = 0; i < p.numel(); ++i) inter += 2 * p[i] * y[i] + 1e-10, psum += p[i], ysum += y[i];
  return 1 - inter / (psum + ysum + 1e-10);
}
}  // namespace

TEST_CASE("dice matches hand-computed values for both variants", "[losses][dice]") {
  // scribbled: class 0 over pixels {0, 1}: 2·0.8 / (1.1 + 1); class 1: 2·0.7 / (0.9 + 1).
  const double scribbled = 1 - (1.6 / 2.1 + 1.4 / 1.9) / 2;
  CHECK(dice_value(tiny_p, tiny_y, {losses::dice_variant::scribbled, 0.0}) == Approx(scribbled).epsilon(1e-14));
  CHECK(scribbled == Approx(0.2506265664));
  // global: 2·(0.8 + 0.7) / (Σp = 3 over all pixels + Σy = 2).
  CHECK(dice_value(tiny_p, tiny_y, {losses::dice_variant::global, 0.0}) == Approx(0.4).epsilon(1e-14));
  // smoothing enters numerator and denominator once
  CHECK(dice_value(tiny_p, tiny_y, {losses::dice_variant::global, 1.0}) == Approx(1 - 4.0 / 6.0).epsilon(1e-14));
}

TEST_CASE("scribbled dice leaves classes without scribbles out of the mean", "[losses][dice]") {
  // A third class that no pixel is labeled with: the value equals the two-class example.
  Tensor<double> p(Shape{1, 3, 1, 3}, std::vector<double>{0.7, 0.3, 0.5, /*c1*/ 0.2, 0.6, 0.5, /*c2*/ 0.1, 0.1, 0.0});
  Tensor<double> y(Shape{1, 3, 1, 3}, std::vector<double>{1, 0, 0, /*c1*/ 0, 1, 0, /*c2*/ 0, 0, 0});
  const double expected = 1 - (1.4 / 2.0 + 1.2 / 1.8) / 2;
  CHECK(dice_value(p, y, {losses::dice_variant::scribbled, 0.0}) == Approx(expected).epsilon(1e-14));
}

TEST_CASE("dice with no scribbled pixel is 0 with a zero gradient", "[losses][dice]") {
  Tape<double> tape;
  Var<double> p = tape.variable(test::random_probabilities(Shape{2, 3, 2, 3}, 1));
  Var<double> loss = losses::dice(p, tape.constant(Tensor<double>(Shape{2, 3, 2, 3})));
  CHECK(loss.value()[0] == 0.0);
  tape.backward(loss);
  for (double g : p.grad().span()) CHECK(g == 0.0);
}

TEST_CASE("dice agrees with plain-loop references on random shapes", "[losses][dice]") {
  const Shape shapes[] = {{1, 4, 5, 7}, {3, 2, 9, 4}, {2, 5, 3, 1}};
  unsigned seed = 20;
  for (const Shape& shape : shapes) {
    const Tensor<double> p = test::random_probabilities(shape, ++seed);
    const Tensor<double> y = losses::one_hot<double>(
        test::random_labels(Shape{shape[0], shape[2], shape[3]}, int(shape[1]), 4, ++seed), int(shape[1]), 4);
    Tape<float> tape;
    Var<float> pf = tape.constant(test::to_float(p)), yf = tape.constant(test::to_float(y));
    CHECK(losses::dice(pf, yf).value()[0] == Approx(reference_scribbled(p, y, 1e-5)).epsilon(1e-5));
    CHECK(losses::dice(pf, yf, losses::dice_options::original()).value()[0] ==
          Approx(reference_original(p, y)).epsilon(1e-5));
  }
}

TEST_CASE("dice gradients match finite differences", "[losses][dice][gradcheck]") {
  const Shape shape{2, 3, 3, 5};
  const Tensor<double> p = test::random_probabilities(shape, 5);
  const Tensor<double> y = losses::one_hot<double>(test::random_labels(Shape{2, 3, 5}, 3, 7, 6), 3, 7);
  for (auto variant : {losses::dice_variant::scribbled, losses::dice_variant::global}) {
    INFO("variant " << int(variant));
    // Scribble targets are constants: the mask is a step function of y.
    auto probabilities = [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
      return losses::dice(in[0], tape.constant(y), {variant, 0.5});
    };
    auto result = autograd::gradcheck(probabilities, {p});
    INFO(result.report);
    CHECK(result.ok);
    // Soft targets, every pixel labeled: the gradient into y is smooth too.
    auto both = [&](Tape<double>&, const std::vector<Var<double>>& in) { return losses::dice(in[0], in[1], {variant, 0.5}); };
    auto soft = autograd::gradcheck(both, {p, test::random_probabilities(shape, 8)});
    INFO(soft.report);
    CHECK(soft.ok);
  }
}

TEST_CASE("dice rejects mismatched inputs", "[losses][dice]") {
  Tape<float> tape;
  Var<float> p = tape.constant(Tensor<float>(Shape{1, 2, 3, 3}, 0.5f));
  CHECK_THROWS_WITH(losses::dice(p, tape.constant(Tensor<float>(Shape{1, 2, 3, 4}))),
                    Catch::Contains("dice: targets of shape [1, 2, 3, 4] do not match probabilities [1, 2, 3, 3]"));
  CHECK_THROWS_WITH(losses::dice(p, p, {losses::dice_variant::global, -1.0}), Catch::Contains("smooth must be non-negative"));
}
