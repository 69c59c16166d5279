#include <catch2/catch.hpp>

#include <cmath>

#include "modelmix/data/crop_pad.hpp"
#include "modelmix/data/normalize.hpp"
#include "modelmix/data/phantom.hpp"
#include "modelmix/data/slices.hpp"
#include "support/random.hpp"

using namespace modelmix;
using namespace modelmix::data;

namespace {

// Plain-loop centre crop/pad with Python's floor offsets (reference: center_pad in transforms.py).
template <class T>
Tensor<T> crop_pad_reference(const Tensor<T>& in, index_t S_h, index_t S_w, T fill) {
  const index_t C = in.dim(0), H = in.dim(1), W = in.dim(2);
  auto floor_half = [](index_t d) { return index_t(std::floor(double(d) / 2.0)); };
  const index_t oh = floor_half(H - S_h), ow = floor_half(W - S_w);
  Tensor<T> out(Shape{C, S_h, S_w}, fill);
  for (index_t c = 0; c < C; ++c)
    for (index_t i = 0; i < S_h; ++i)
      for (index_t j = 0; j < S_w; ++j) {
        const index_t y = i + oh, x = j + ow;
        if (y >= 0 && y < H && x >= 0 && x < W) out(c, i, j) = in(c, y, x);
      }
  return out;
}

}  // namespace

TEST_CASE("z-score gives mean 0 and std 1 per volume", "[normalize]") {
  ImageVolume v{test::random_tensor<float>(Shape{3, 17, 11}, 4, 100.0f, 4000.0f), {1, 1, 5}, "v"};
  const zscore_stats before = zscore_normalize(v);
  CHECK(before.mean > 1000);
  const zscore_stats after = compute_zscore_stats(std::span<const float>(v.voxels.span()));
  CHECK(std::abs(after.mean) < 1e-5);
  CHECK(std::abs(after.stddev - 1) < 1e-5);

  Volume<double> d{test::random_tensor<double>(Shape{2, 5, 7}, 9, -3.0, 8.0), {}, "d"};
  const Volume<double> dz = zscore_normalized(d);
  const zscore_stats s = compute_zscore_stats(std::span<const double>(dz.voxels.span()));
  CHECK(std::abs(s.mean) < 1e-12);
  CHECK(std::abs(s.stddev - 1) < 1e-12);
  // Population std, as numpy's img.std(): {1, 3} → mean 2, std 1.
  const std::vector<double> two{1.0, 3.0};
  CHECK(compute_zscore_stats(std::span<const double>(two)).stddev == 1.0);

  ImageVolume flat{Tensor<float>(Shape{2, 3, 3}, 7.0f), {}, "flat"};
  zscore_normalize(flat);
  for (float x : flat.voxels.span()) CHECK(x == 0.0f);
  ImageVolume empty{Tensor<float>(Shape{0, 3, 3}), {}, "nothing"};
  CHECK_THROWS_WITH(zscore_normalize(empty), Catch::Contains("nothing"));
}

TEST_CASE("centre crop/pad matches the plain-loop reference and pastes back", "[crop_pad]") {
  const index_t sizes[] = {1, 4, 5, 8, 9, 12};
  unsigned seed = 0;
  for (index_t H : sizes)
    for (index_t W : {index_t(3), index_t(8), index_t(11)})
      for (index_t S : {index_t(4), index_t(7), index_t(8)}) {
        INFO("H " << H << " W " << W << " S " << S);
        const Tensor<float> in = test::random_tensor<float>(Shape{2, H, W}, ++seed, 1.0f, 2.0f);
        const Tensor<float> out = centre_crop_pad(in, S, S + 1, -1.0f);
        REQUIRE(out.shape() == Shape({2, S, S + 1}));
        CHECK(out.storage() == crop_pad_reference(in, S, S + 1, -1.0f).storage());
        // Round trip: every input pixel inside the window comes back, the rest is the fill.
        const Tensor<float> back = paste_back(out, H, W, 0.0f);
        REQUIRE(back.shape() == in.shape());
        index_t kept = 0;
        for (index_t i = 0; i < in.numel(); ++i) {
          REQUIRE((back[i] == in[i] || back[i] == 0.0f));
          kept += back[i] == in[i];
        }
        CHECK(kept == 2 * std::min(H, S) * std::min(W, S + 1));
      }
  // Odd surplus/deficit: crops the extra row at the end, pads the extra row at the start.
  const Tensor<int> column(Shape{5, 1}, std::vector<int>{0, 1, 2, 3, 4});
  CHECK(centre_crop_pad(column, 2, 1, -1).storage() == std::vector<int>{1, 2});
  const Tensor<int> pair(Shape{2, 1}, std::vector<int>{7, 8});
  CHECK(centre_crop_pad(pair, 5, 1, 0).storage() == std::vector<int>{0, 0, 7, 8, 0});
  CHECK(paste_back(centre_crop_pad(pair, 5, 1, 0), 2, 1, 0).storage() == pair.storage());
  CHECK_THROWS_WITH(centre_crop_pad(Tensor<int>(Shape{4}), 2, 2, 0), Catch::Contains("rank"));
}

TEST_CASE("volume_slices normalises, crops and keeps the provenance", "[slices]") {
  phantom_options o;
  o.width = 40;
  o.height = 36;
  o.min_slices = o.max_slices = 4;
  const phantom_case c = make_phantom_case(o, 2);
  const index_t S = 38;  // crops X (40 → 38), pads Y (36 → 38)
  slice_options so;
  so.size = S;
  const auto slices = volume_slices(c.image, &c.scribble, &c.label, so, 7);
  REQUIRE(slices.size() == 4);
  const ImageVolume z = zscore_normalized(c.image);
  for (const slice_sample& s : slices) {
    CHECK(s.volume == 7);
    CHECK(s.height == 36);
    CHECK(s.width == 40);
    REQUIRE(s.image.shape() == Shape({1, S, S}));
    REQUIRE(s.scribble.shape() == Shape({S, S}));
    REQUIRE(s.label.shape() == Shape({S, S}));
    CHECK(s.has_label());
    // Window offsets: y = −1 (pad one row at the top), x = +1.
    for (index_t i = 0; i < S; ++i)
      for (index_t j = 0; j < S; ++j) {
        const index_t y = i - 1, x = j + 1;
        if (y >= 0 && y < 36) {
          REQUIRE(s.image(0, i, j) == z.voxels(s.z, y, x));
          REQUIRE(s.scribble(i, j) == c.scribble.voxels(s.z, y, x));
          REQUIRE(s.label(i, j) == c.label.voxels(s.z, y, x));
        } else {
          REQUIRE(s.image(0, i, j) == 0.0f);
          REQUIRE(s.scribble(i, j) == unlabeled_label);
          REQUIRE(s.label(i, j) == 0);
        }
      }
  }
  // Without scribbles: all unlabeled; without labels: none.
  const auto bare = volume_slices(c.image, nullptr, nullptr, so);
  CHECK_FALSE(bare[0].has_scribbles());
  CHECK_FALSE(bare[0].has_label());
  CHECK(slices[0].has_scribbles());

  // Paste dense labels back: the original volume inside the window, background outside.
  std::vector<Tensor<label_t>> maps;
  for (const slice_sample& s : slices) maps.push_back(s.label);
  const LabelVolume back = assemble_volume(std::span<const Tensor<label_t>>(maps), c.image, 0);
  CHECK(back.name == c.image.name);
  CHECK(back.spacing == c.image.spacing);
  for (index_t zz = 0; zz < 4; ++zz)
    for (index_t y = 0; y < 36; ++y)
      for (index_t x = 0; x < 40; ++x) REQUIRE(back.voxels(zz, y, x) == ((x >= 1 && x < 39) ? c.label.voxels(zz, y, x) : 0));

  LabelVolume wrong = c.label;
  wrong.voxels = Tensor<label_t>(Shape{4, 36, 39});
  CHECK_THROWS_WITH(volume_slices(c.image, &wrong, nullptr, so), Catch::Contains("scribble volume"));
  CHECK_THROWS_WITH(assemble_volume(std::span<const Tensor<label_t>>(maps).first(3), c.image),
                    Catch::Contains("3 slices"));
}
