#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <set>

#include "modelmix/data/normalize.hpp"
#include "modelmix/data/phantom.hpp"

using namespace modelmix;
using namespace modelmix::data;

namespace {

phantom_options options_for(phantom_modality m, std::uint64_t seed = 5) {
  phantom_options o;
  o.modality = m;
  o.seed = seed;
  return o;
}

template <class T>
bool same_bytes(const Volume<T>& a, const Volume<T>& b) {
  return a.voxels.shape() == b.voxels.shape() && a.voxels.storage() == b.voxels.storage();
}

// Mean z-scored intensity of each class over the given cases.
std::array<double, 4> class_means(const std::vector<phantom_case>& cases) {
  std::array<double, 4> sum{}, count{};
  for (const phantom_case& c : cases) {
    const ImageVolume z = zscore_normalized(c.image);
    for (index_t i = 0; i < z.voxels.numel(); ++i) {
      sum[c.label.voxels[i]] += z.voxels[i];
      count[c.label.voxels[i]] += 1;
    }
  }
  for (int k = 0; k < 4; ++k) sum[std::size_t(k)] /= count[std::size_t(k)];
  return sum;
}

}  // namespace

TEST_CASE("phantom is deterministic in (options, subject)", "[phantom]") {
  for (phantom_modality m : {phantom_modality::cine, phantom_modality::lge}) {
    const phantom_case a = make_phantom_case(options_for(m), 3);
    const phantom_case b = make_phantom_case(options_for(m), 3);
    CHECK(same_bytes(a.image, b.image));
    CHECK(same_bytes(a.label, b.label));
    CHECK(same_bytes(a.scribble, b.scribble));
    CHECK_FALSE(same_bytes(a.image, make_phantom_case(options_for(m, 6), 3).image));
    CHECK_FALSE(same_bytes(a.image, make_phantom_case(options_for(m), 4).image));
  }
  // The same seed gives different subjects in the two modalities (two different tasks).
  CHECK_FALSE(same_bytes(make_phantom_case(options_for(phantom_modality::cine), 0).label,
                         make_phantom_case(options_for(phantom_modality::lge), 0).label));
}

TEST_CASE("phantom volumes have the requested geometry", "[phantom]") {
  phantom_options o = options_for(phantom_modality::lge);
  o.width = 80;
  o.height = 72;
  o.min_slices = 6;
  o.max_slices = 7;
  o.spacing = {1.25, 1.25, 10.0};
  const auto cases = make_phantom_dataset(o, 4, 10);
  REQUIRE(cases.size() == 4);
  for (const phantom_case& c : cases) {
    CHECK(c.image.nx() == 80);
    CHECK(c.image.ny() == 72);
    CHECK(c.image.nz() >= 6);
    CHECK(c.image.nz() <= 7);
    CHECK(c.label.voxels.shape() == c.image.voxels.shape());
    CHECK(c.scribble.voxels.shape() == c.image.voxels.shape());
    CHECK(c.image.spacing == o.spacing);
    CHECK(c.scribble.spacing == o.spacing);
    for (float v : c.image.voxels.span()) {
      REQUIRE(v >= 0);
      REQUIRE(v == std::round(v));  // scanner-like raw integers
    }
  }
  CHECK(cases[0].image.name == "phantom_lge_10");
  CHECK(same_bytes(cases[1].image, make_phantom_case(o, 11).image));
}

TEST_CASE("phantom labels and scribbles follow the data conventions", "[phantom]") {
  for (phantom_modality m : {phantom_modality::cine, phantom_modality::lge}) {
    const auto cases = make_phantom_dataset(options_for(m), 6);
    for (const phantom_case& c : cases) {
      INFO(c.image.name);
      std::array<index_t, 5> labels{}, scribbles{};
      index_t agree = 0;
      for (index_t i = 0; i < c.label.voxels.numel(); ++i) {
        const label_t l = c.label.voxels[i], s = c.scribble.voxels[i];
        REQUIRE(l <= 3);
        REQUIRE(s <= 4);
        ++labels[l];
        ++scribbles[s];
        agree += s == l;
      }
      for (int k = 1; k <= 3; ++k) CHECK(labels[std::size_t(k)] > 0);
      const index_t scribbled = c.scribble.voxels.numel() - scribbles[4];
      const double density = double(scribbled) / double(c.scribble.voxels.numel());
      CHECK(density > 0.01);
      CHECK(density < 0.05);
      CHECK(double(agree) >= 0.99 * double(scribbled));
      for (int k = 1; k <= 3; ++k) CHECK(scribbles[std::size_t(k)] > 0);
      for (index_t z = 0; z < c.scribble.nz(); ++z) {
        bool background = false;
        for (label_t v : c.scribble.slice(z)) background = background || v == 0;
        CHECK(background);
      }
    }
  }
}

TEST_CASE("phantom anatomy: LV inside a myocardial ring, RV beside it, tapering to the apex", "[phantom]") {
  for (phantom_modality m : {phantom_modality::cine, phantom_modality::lge}) {
    for (const phantom_case& c : make_phantom_dataset(options_for(m, 9), 5)) {
      INFO(c.image.name);
      const index_t W = c.label.nx(), H = c.label.ny();
      index_t lv_edges = 0, lv_edges_on_myo = 0, rv_edges = 0, rv_on_lv = 0, rv_on_myo = 0;
      std::vector<index_t> lv_area;
      for (index_t z = 0; z < c.label.nz(); ++z) {
        const auto s = c.label.slice(z);
        index_t area = 0;
        for (index_t y = 1; y + 1 < H; ++y)
          for (index_t x = 1; x + 1 < W; ++x) {
            const label_t l = s[std::size_t(y * W + x)];
            area += l == 3 || l == 2;
            for (const index_t n : {y * W + x - 1, y * W + x + 1, (y - 1) * W + x, (y + 1) * W + x}) {
              const label_t o = s[std::size_t(n)];
              if (l == 3 && o != 3) {
                ++lv_edges;
                lv_edges_on_myo += o == 2;
              }
              if (l == 1 && o != 1) {
                ++rv_edges;
                rv_on_lv += o == 3;
                rv_on_myo += o == 2;
              }
            }
          }
        lv_area.push_back(area);
      }
      CHECK(lv_edges_on_myo >= 0.99 * double(lv_edges));
      CHECK(rv_on_lv == 0);
      CHECK(rv_on_myo > 0);                          // attached at the septum
      CHECK(rv_on_myo < 0.6 * double(rv_edges));  // ... but only on one side
      CHECK(lv_area.back() < lv_area.front() / 2);   // apex much smaller than base
    }
  }
}

TEST_CASE("cine and LGE phantoms have different contrast", "[phantom]") {
  const auto cine = class_means(make_phantom_dataset(options_for(phantom_modality::cine), 4));
  const auto lge = class_means(make_phantom_dataset(options_for(phantom_modality::lge), 4));
  INFO("cine bg/rv/myo/lv " << cine[0] << " " << cine[1] << " " << cine[2] << " " << cine[3]);
  INFO("lge  bg/rv/myo/lv " << lge[0] << " " << lge[1] << " " << lge[2] << " " << lge[3]);
  // Both: blood brighter than myocardium, which is what a network must learn.
  CHECK(cine[3] > cine[2] + 1.0);
  CHECK(lge[3] > lge[2] + 0.5);
  // Cine blood is far brighter relative to the volume; LGE has darker blood, brighter scar.
  CHECK(cine[3] > lge[3] + 0.4);
  CHECK(cine[1] > lge[1] + 0.4);
  for (int k = 1; k <= 3; ++k) CHECK(std::abs(cine[std::size_t(k)] - lge[std::size_t(k)]) > 0.1);
}

TEST_CASE("LGE phantoms carry bright scar inside the myocardium", "[phantom]") {
  phantom_options o = options_for(phantom_modality::lge);
  o.noise = 0;
  o.bias = 0;
  index_t bright_myo = 0;
  for (const phantom_case& c : make_phantom_dataset(o, 4)) {
    double blood = 0, n = 0;
    for (index_t i = 0; i < c.label.voxels.numel(); ++i)
      if (c.label.voxels[i] == 3) blood += c.image.voxels[i], n += 1;
    blood /= n;
    for (index_t i = 0; i < c.label.voxels.numel(); ++i) bright_myo += c.label.voxels[i] == 2 && c.image.voxels[i] > 1.3 * blood;
  }
  CHECK(bright_myo > 50);
}

TEST_CASE("phantom noise option scales the noise; 0 removes it", "[phantom]") {
  // Roughness: mean |I(x+1) − I(x)| relative to the mean intensity.
  auto roughness = [](double noise) {
    phantom_options o = options_for(phantom_modality::cine);
    o.noise = noise;
    const phantom_case c = make_phantom_case(o, 1);
    double steps = 0, total = 0;
    const index_t W = c.image.nx();
    for (index_t i = 0; i + 1 < c.image.voxels.numel(); ++i) {
      if ((i + 1) % W) steps += std::abs(c.image.voxels[i + 1] - c.image.voxels[i]);
      total += c.image.voxels[i];
    }
    return steps / total;
  };
  const double clean = roughness(0), normal = roughness(1), loud = roughness(2);
  CHECK(clean < 0.6 * normal);
  CHECK(loud > 1.3 * normal);
  phantom_options o = options_for(phantom_modality::cine);
  o.noise = 0;
  CHECK(same_bytes(make_phantom_case(o, 1).label, make_phantom_case(options_for(phantom_modality::cine), 1).label));
}

TEST_CASE("phantom options are validated", "[phantom]") {
  phantom_options o;
  o.min_slices = 5;
  o.max_slices = 3;
  CHECK_THROWS_WITH(make_phantom_case(o, 0), Catch::Contains("min_slices"));
  o = {};
  o.width = 8;
  CHECK_THROWS_WITH(make_phantom_case(o, 0), Catch::Contains("width and height"));
  CHECK_THROWS_WITH(make_phantom_case(phantom_options{}, -1), Catch::Contains("negative subject"));
}

TEST_CASE("random_source is reproducible and well distributed", "[random]") {
  random_source a(123), b(123), c(124);
  std::vector<std::uint64_t> xa, xb, xc;
  for (int i = 0; i < 8; ++i) xa.push_back(a.bits()), xb.push_back(b.bits()), xc.push_back(c.bits());
  CHECK(xa == xb);
  CHECK(xa != xc);
  // mt19937_64 is fully specified by the standard: its 10000th output for the default seed.
  std::mt19937_64 reference;
  reference.discard(9999);
  CHECK(reference() == 9981545732273789042ull);

  random_source r(7);
  double sum = 0, sq = 0;
  std::array<int, 5> hist{};
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double g = r.normal();
    sum += g, sq += g * g;
    const double u = r.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    ++hist[std::size_t(r.below(5))];
  }
  CHECK(std::abs(sum / n) < 0.03);
  CHECK(std::abs(sq / n - 1) < 0.05);
  for (int h : hist) CHECK(std::abs(h - n / 5) < 300);
  CHECK(r.between(3, 3) == 3);
  CHECK_THROWS_WITH(r.below(0), Catch::Contains("below"));
  CHECK(derive_seed(1, 2, 3) != derive_seed(1, 3, 2));
}
