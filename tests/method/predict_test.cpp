// Slice-wise prediction: crop/pad to S, batching, and paste-back onto the original grid, with
// a stub predictor whose output is a known function of each input pixel.
#include <catch2/catch.hpp>

#include <random>

#include "modelmix/method/predict.hpp"

namespace method = modelmix::method;
namespace data = modelmix::data;
using modelmix::index_t;
using modelmix::Shape;
using modelmix::Tensor;

namespace {

// Voxel values 1..200 that encode their position; the stub maps a value v to label v % 7 + 1,
// and padding (0) to label 0 — so every pasted label can be checked against its own voxel.
data::ImageVolume coded_volume(index_t Z, index_t H, index_t W) {
  data::ImageVolume v{Tensor<float>(Shape{Z, H, W}), {1.5, 1.5, 8.0}, "case07"};
  for (index_t i = 0; i < v.voxels.numel(); ++i) v.voxels[i] = static_cast<float>(1 + (i * 37) % 200);
  return v;
}

struct StubPredictor {
  std::vector<index_t>* batch_sizes;
  Tensor<int> operator()(const Tensor<float>& batch) const {
    REQUIRE(batch.rank() == 4);
    REQUIRE(batch.dim(1) == 1);
    batch_sizes->push_back(batch.dim(0));
    Tensor<int> out(Shape{batch.dim(0), batch.dim(2), batch.dim(3)});
    for (index_t i = 0; i < out.numel(); ++i) {
      const int v = static_cast<int>(batch[i]);
      out[i] = v == 0 ? 0 : v % 7 + 1;
    }
    return out;
  }
};

}  // namespace

TEST_CASE("predict_volume: crop/pad, batch, paste back onto the original grid", "[method][predict]") {
  struct Case {
    index_t Z, H, W, S, batch;
  };
  // Padded, cropped, mixed (crop in one axis, pad in the other), odd surpluses, batch 1, a
  // batch that does not divide Z.
  const Case cases[] = {{5, 6, 9, 12, 2}, {3, 17, 20, 8, 3}, {4, 13, 5, 9, 1}, {1, 10, 10, 10, 8}, {7, 11, 14, 12, 4}};
  for (const auto& c : cases) {
    INFO("Z " << c.Z << " H " << c.H << " W " << c.W << " S " << c.S << " batch " << c.batch);
    const auto image = coded_volume(c.Z, c.H, c.W);
    std::vector<index_t> sizes;
    method::PredictOptions options{c.S, c.batch, false, data::label_t{9}};
    const auto pred = method::predict_volume(image, StubPredictor{&sizes}, options);
    REQUIRE(pred.voxels.shape() == image.voxels.shape());
    CHECK(pred.spacing == image.spacing);
    CHECK(pred.name == "case07");
    index_t seen = 0;
    for (index_t b : sizes) {
      CHECK(b == std::min(c.batch, c.Z - seen));
      seen += b;
    }
    CHECK(seen == c.Z);
    // The window kept by a centre crop: rows [o, o + S) with o = ⌊(H − S)/2⌋ when H > S.
    const index_t oy = c.H > c.S ? (c.H - c.S) / 2 : 0, ox = c.W > c.S ? (c.W - c.S) / 2 : 0;
    for (index_t z = 0; z < c.Z; ++z)
      for (index_t y = 0; y < c.H; ++y)
        for (index_t x = 0; x < c.W; ++x) {
          const bool inside = y >= oy && y < oy + std::min(c.H, c.S) && x >= ox && x < ox + std::min(c.W, c.S);
          const int expected = inside ? static_cast<int>(image.voxels(z, y, x)) % 7 + 1 : 9;
          REQUIRE(int{pred.voxels(z, y, x)} == expected);
        }
  }
}

TEST_CASE("predict_volume: the predictor sees z-scored slices padded with the volume mean", "[method][predict]") {
  data::ImageVolume image{Tensor<float>(Shape{2, 3, 3}), {1, 1, 1}, "ramp"};
  for (index_t i = 0; i < 18; ++i) image.voxels[i] = static_cast<float>(100 + 10 * i);
  Tensor<float> seen;
  auto capture = [&](const Tensor<float>& batch) {
    seen = batch;
    return Tensor<std::uint8_t>(Shape{batch.dim(0), 5, 5});
  };
  (void)method::predict_volume(image, capture, {5, 4, true, 0});
  REQUIRE(seen.shape() == Shape({2, 1, 5, 5}));
  // mean 185, population std 10·sqrt((18² − 1)/12)
  const double mean = 185.0, std = 10.0 * std::sqrt((18.0 * 18.0 - 1.0) / 12.0);
  CHECK(seen(0, 0, 1, 1) == Approx((100.0 - mean) / std));
  CHECK(seen(1, 0, 3, 3) == Approx((270.0 - mean) / std));
  CHECK(seen(0, 0, 0, 0) == 0.0f);  // padding
}

TEST_CASE("predict_volume: predictor mistakes are errors naming the image", "[method][predict]") {
  const auto image = coded_volume(2, 4, 4);
  auto wrong_shape = [](const Tensor<float>& b) { return Tensor<int>(Shape{b.dim(0), 3, 4}); };
  CHECK_THROWS_WITH(method::predict_volume(image, wrong_shape, {4, 2, false, 0}),
                    Catch::Contains("case07") && Catch::Contains("[2, 3, 4]"));
  auto too_big = [](const Tensor<float>& b) { return Tensor<int>(Shape{b.dim(0), 4, 4}, 300); };
  CHECK_THROWS_WITH(method::predict_volume(image, too_big, {4, 2, false, 0}), Catch::Contains("label 300"));
  auto negative = [](const Tensor<float>& b) { return Tensor<long>(Shape{b.dim(0), 4, 4}, -1); };
  CHECK_THROWS_WITH(method::predict_volume(image, negative, {4, 2, false, 0}), Catch::Contains("label -1"));
  CHECK_THROWS_WITH(method::predict_volume(image, negative, {0, 2, false, 0}), Catch::Contains("must be positive"));
}

TEST_CASE("argmax_channels matches a plain loop", "[method][predict]") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> v(-3, 3);  // small integers: ties happen and the first wins
  Tensor<double> scores(Shape{3, 4, 5, 7});
  for (index_t i = 0; i < scores.numel(); ++i) scores[i] = v(rng);
  const auto ids = method::argmax_channels(scores);
  REQUIRE(ids.shape() == Shape({3, 5, 7}));
  for (index_t b = 0; b < 3; ++b)
    for (index_t y = 0; y < 5; ++y)
      for (index_t x = 0; x < 7; ++x) {
        int best = 0;
        for (int c = 1; c < 4; ++c)
          if (scores(b, c, y, x) > scores(b, best, y, x)) best = c;
        REQUIRE(int{ids(b, y, x)} == best);
      }
  CHECK_THROWS_WITH(method::argmax_channels(Tensor<float>(Shape{2, 3})), Catch::Contains("[B, C, H, W]"));
}
