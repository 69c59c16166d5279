#include <catch2/catch.hpp>

#include <cmath>

#include "modelmix/data/augment.hpp"
#include "support/random.hpp"

using namespace modelmix;
using namespace modelmix::data;

namespace {

// A label map of blobs with ids 0..3 and never 4, so an invented pixel is recognisable.
Tensor<label_t> blob_labels(index_t H, index_t W, unsigned seed) {
  random_source rng(seed);
  Tensor<label_t> l(Shape{H, W}, 0);
  for (int b = 0; b < 6; ++b) {
    const double cx = rng.uniform(0, double(W)), cy = rng.uniform(0, double(H)), r = rng.uniform(2, double(std::min(H, W)) / 3);
    const auto id = label_t(1 + rng.below(3));
    for (index_t y = 0; y < H; ++y)
      for (index_t x = 0; x < W; ++x)
        if (std::hypot(double(x) - cx, double(y) - cy) < r) l(y, x) = id;
  }
  return l;
}

// The image equal to its label map, as floats, in [C, H, W] with C copies.
Tensor<float> as_image(const Tensor<label_t>& l, index_t C = 1) {
  const index_t H = l.dim(0), W = l.dim(1);
  Tensor<float> img(Shape{C, H, W});
  for (index_t c = 0; c < C; ++c)
    for (index_t i = 0; i < H * W; ++i) img[c * H * W + i] = float(l[i]);
  return img;
}

}  // namespace

TEST_CASE("flips and quarter turns match plain loops", "[augment]") {
  const index_t H = 5, W = 7;
  const Tensor<float> img = test::random_tensor<float>(Shape{2, H, W}, 1);
  Tensor<label_t> lab = blob_labels(H, W, 2);
  {
    Tensor<float> a = img;
    Tensor<label_t> l = lab;
    Tensor<label_t>* maps[] = {&l};
    flip_rows(a, maps);
    for (index_t c = 0; c < 2; ++c)
      for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x) REQUIRE(a(c, y, x) == img(c, H - 1 - y, x));
    for (index_t y = 0; y < H; ++y)
      for (index_t x = 0; x < W; ++x) REQUIRE(l(y, x) == lab(H - 1 - y, x));
    flip_columns(a, maps);
    for (index_t y = 0; y < H; ++y)
      for (index_t x = 0; x < W; ++x) REQUIRE(a(1, y, x) == img(1, H - 1 - y, W - 1 - x));
  }
  {
    Tensor<float> a = img;
    Tensor<label_t> l = lab;
    Tensor<label_t>* maps[] = {&l};
    rotate90(a, maps, 1);  // np.rot90: out[i, j] = in[j, W − 1 − i]
    REQUIRE(a.shape() == Shape({2, W, H}));
    REQUIRE(l.shape() == Shape({W, H}));
    for (index_t i = 0; i < W; ++i)
      for (index_t j = 0; j < H; ++j) {
        REQUIRE(a(0, i, j) == img(0, j, W - 1 - i));
        REQUIRE(l(i, j) == lab(j, W - 1 - i));
      }
    rotate90(a, maps, 3);
    CHECK(a.storage() == img.storage());
    CHECK(l.storage() == lab.storage());
    rotate90(a, maps, -2);
    rotate90(a, maps, 6);
    CHECK(a.storage() == img.storage());
  }
}

TEST_CASE("rotation by 90° equals a quarter turn; invented corners are unlabeled", "[augment]") {
  for (index_t N : {index_t(8), index_t(9)}) {
    const Tensor<label_t> lab = blob_labels(N, N, 3);
    Tensor<float> a = as_image(lab), b = a;
    Tensor<label_t> la = lab, lb = lab;
    Tensor<label_t>* ma[] = {&la};
    Tensor<label_t>* mb[] = {&lb};
    rotate(a, ma, 90.0);
    rotate90(b, mb, 1);
    CHECK(a.storage() == b.storage());
    CHECK(la.storage() == lb.storage());
  }
  const index_t N = 21;
  Tensor<float> ones(Shape{1, N, N}, 1.0f);
  Tensor<label_t> lab(Shape{N, N}, 1), dense(Shape{N, N}, 2);
  Tensor<label_t>* maps[] = {&lab, &dense};
  rotate(ones, maps, 45.0);
  for (auto [y, x] : {std::pair{0, 0}, {0, N - 1}, {N - 1, 0}, {N - 1, N - 1}}) {
    CHECK(lab(y, x) == 4);
    CHECK(dense(y, x) == 4);
    CHECK(ones(0, y, x) == 0.0f);
  }
  for (index_t y = 0; y < N; ++y)
    for (index_t x = 0; x < N; ++x)
      if (std::hypot(double(x) - 10, double(y) - 10) < 10) {
        REQUIRE(lab(y, x) == 1);
        REQUIRE(ones(0, y, x) == 1.0f);
      }
  // The reference code's choice: background.
  Tensor<float> img(Shape{1, N, N}, 1.0f);
  Tensor<label_t> l(Shape{N, N}, 1);
  Tensor<label_t>* m[] = {&l};
  rotate(img, m, 45.0, augment_options::reference());
  CHECK(l(0, 0) == 0);
}

TEST_CASE("every augmentation keeps image and labels aligned", "[augment]") {
  for (index_t N : {index_t(32), index_t(33)}) {
    const Tensor<label_t> lab = blob_labels(N, N, unsigned(N));
    for (std::uint64_t seed = 0; seed < 40; ++seed) {
      INFO("N " << N << " seed " << seed);
      augment_options o;
      o.cutout_size = N / 3;
      o.flip_probability = o.cutout_probability = o.scale_probability = o.rotate_probability = 0.7;
      Tensor<float> img = as_image(lab, 2);
      Tensor<label_t> scribble = lab, dense = lab;
      Tensor<label_t>* maps[] = {&scribble, &dense};
      random_source rng(seed);
      augment(img, maps, o, rng);
      REQUIRE(img.shape() == Shape({2, N, N}));
      CHECK(scribble.storage() == dense.storage());
      for (index_t y = 0; y < N; ++y)
        for (index_t x = 0; x < N; ++x) {
          const label_t l = scribble(y, x);
          REQUIRE(img(0, y, x) == (l == 4 ? 0.0f : float(l)));
          REQUIRE(img(1, y, x) == img(0, y, x));
        }
    }
  }
}

TEST_CASE("bilinear image resampling stays aligned away from edges", "[augment]") {
  const index_t N = 48;
  const Tensor<label_t> lab = blob_labels(N, N, 11);
  augment_options o;
  o.image_interpolation = interpolation::bilinear;
  o.cutout_probability = 0;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    Tensor<float> img = as_image(lab);
    Tensor<label_t> l = lab;
    Tensor<label_t>* maps[] = {&l};
    random_source rng(seed);
    augment(img, maps, o, rng);
    index_t labelled = 0, agree = 0;
    for (index_t i = 0; i < N * N; ++i) {
      if (l[i] == 4) continue;
      ++labelled;
      agree += std::lround(img[i]) == l[i];
    }
    CHECK(agree >= 0.9 * double(labelled));
  }
  // One rotation: the image is invented exactly where the labels are.
  Tensor<float> img = as_image(lab);
  Tensor<label_t> l = lab;
  Tensor<label_t>* maps[] = {&l};
  rotate(img, maps, 33.0, o);
  index_t invented = 0;
  for (index_t i = 0; i < N * N; ++i)
    if (l[i] == 4) {
      ++invented;
      REQUIRE(img[i] == 0.0f);
    }
  CHECK(invented > 0);
}

TEST_CASE("scale window and cutout", "[augment]") {
  const index_t N = 16;
  const Tensor<label_t> lab = blob_labels(N, N, 5);
  {  // the whole image as the window: identity
    Tensor<float> img = as_image(lab);
    Tensor<label_t> l = lab;
    Tensor<label_t>* maps[] = {&l};
    scale_window(img, maps, 0, 0, N, N);
    CHECK(l.storage() == lab.storage());
    CHECK(img.storage() == as_image(lab).storage());
  }
  {  // zoom in ×2 on the top-left quarter: each source pixel becomes a 2×2 block
    Tensor<float> img = as_image(lab);
    Tensor<label_t> l = lab;
    Tensor<label_t>* maps[] = {&l};
    scale_window(img, maps, 0, 0, N / 2, N / 2);
    for (index_t y = 0; y < N; ++y)
      for (index_t x = 0; x < N; ++x) {
        REQUIRE(l(y, x) == lab(y / 2, x / 2));
        REQUIRE(img(0, y, x) == float(lab(y / 2, x / 2)));
      }
  }
  {  // zoom out ×2 with the image in the window's middle: the border is invented
    Tensor<float> img = as_image(lab);
    Tensor<label_t> l = lab;
    Tensor<label_t>* maps[] = {&l};
    scale_window(img, maps, -N / 2, -N / 2, 2 * N, 2 * N);
    for (index_t y = 0; y < N; ++y)
      for (index_t x = 0; x < N; ++x) {
        const bool inside = y >= N / 4 && y < 3 * N / 4 && x >= N / 4 && x < 3 * N / 4;
        REQUIRE(l(y, x) == (inside ? lab(2 * y - N / 2 + 1, 2 * x - N / 2 + 1) : label_t(4)));  // floor(−N/2 + 2y + 1)
        REQUIRE(img(0, y, x) == (inside ? float(l(y, x)) : 0.0f));
      }
  }
  {  // cutout clipped at the border
    Tensor<float> img = as_image(lab);
    Tensor<label_t> l = lab;
    Tensor<label_t>* maps[] = {&l};
    augment_options o;
    o.invented_image = -7.0f;
    cutout(img, maps, 10, 12, 32, o);
    for (index_t y = 0; y < N; ++y)
      for (index_t x = 0; x < N; ++x) {
        const bool cut = y >= 10 && x >= 12;
        REQUIRE(l(y, x) == (cut ? label_t(4) : lab(y, x)));
        REQUIRE(img(0, y, x) == (cut ? -7.0f : float(lab(y, x))));
      }
  }
}

TEST_CASE("augment is reproducible from the seed", "[augment]") {
  const index_t N = 24;
  const Tensor<label_t> lab = blob_labels(N, N, 8);
  const Tensor<float> base = test::random_tensor<float>(Shape{1, N, N}, 8);
  auto run = [&](std::uint64_t seed, const augment_options& o) {
    slice_sample s;
    s.image = base;
    s.scribble = lab;
    s.label = lab;
    random_source rng(seed);
    augment(s, o, rng);
    return s;
  };
  const slice_sample a = run(3, {}), b = run(3, {}), c = run(4, {});
  CHECK(a.image.storage() == b.image.storage());
  CHECK(a.scribble.storage() == b.scribble.storage());
  CHECK(a.label.storage() == a.scribble.storage());
  CHECK(a.image.storage() != c.image.storage());
  const slice_sample none = run(3, augment_options::none());
  CHECK(none.image.storage() == base.storage());
  CHECK(none.scribble.storage() == lab.storage());

  // Double images follow the same random chain as float ones.
  Tensor<double> d(Shape{1, N, N});
  Tensor<float> f(Shape{1, N, N});
  for (index_t i = 0; i < N * N; ++i) d[i] = f[i] = float(lab[i]);
  Tensor<label_t> ld = lab, lf = lab;
  Tensor<label_t>* md[] = {&ld};
  Tensor<label_t>* mf[] = {&lf};
  random_source rd(9), rf(9);
  augment(d, md, augment_options{}, rd);
  augment(f, mf, augment_options{}, rf);
  CHECK(ld.storage() == lf.storage());
  for (index_t i = 0; i < N * N; ++i) REQUIRE(d[i] == double(f[i]));
}

TEST_CASE("augment reports mismatched inputs", "[augment]") {
  Tensor<float> img(Shape{1, 8, 8});
  Tensor<label_t> l(Shape{8, 7});
  Tensor<label_t>* maps[] = {&l};
  CHECK_THROWS_WITH(rotate(img, maps, 10.0), Catch::Contains("rotate: label map [8, 7] does not match image [1, 8, 8]"));
  Tensor<float> flat(Shape{8, 8});
  CHECK_THROWS_WITH(flip_rows(flat, {}), Catch::Contains("flip_rows: image must be [C, H, W]"));
  augment_options o;
  o.min_scale = 1.5;
  o.max_scale = 1.2;
  random_source rng(1);
  Tensor<label_t> ok(Shape{8, 8});
  Tensor<label_t>* good[] = {&ok};
  CHECK_THROWS_WITH(augment(img, good, o, rng), Catch::Contains("min_scale"));
}
