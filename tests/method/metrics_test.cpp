// Metrics: hand-computed cases (identical masks, disjoint and overlapping shifted cubes under
// anisotropic spacing, single voxels, empty masks), and the distance transform and surface
// distances against brute force over voxel pairs on random masks.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "modelmix/method/metrics.hpp"

namespace method = modelmix::method;
using method::Mask;
using modelmix::index_t;
using modelmix::Shape;

namespace {

Mask box_mask(Shape shape, std::array<index_t, 3> lo_zyx, std::array<index_t, 3> hi_zyx) {
  Mask m(shape);
  for (index_t z = lo_zyx[0]; z < hi_zyx[0]; ++z)
    for (index_t y = lo_zyx[1]; y < hi_zyx[1]; ++y)
      for (index_t x = lo_zyx[2]; x < hi_zyx[2]; ++x) m(z, y, x) = 1;
  return m;
}

Mask random_mask(Shape shape, double density, std::mt19937& rng) {
  std::bernoulli_distribution on(density);
  Mask m(shape);
  for (index_t i = 0; i < m.numel(); ++i) m[i] = on(rng) ? 1 : 0;
  return m;
}

// Plain surface: in the mask with a 6-neighbour outside it or outside the volume.
std::vector<std::array<index_t, 3>> brute_surface(const Mask& m) {
  const index_t nz = m.dim(0), ny = m.dim(1), nx = m.dim(2);
  auto in = [&](index_t z, index_t y, index_t x) {
    return z >= 0 && z < nz && y >= 0 && y < ny && x >= 0 && x < nx && m(z, y, x) != 0;
  };
  std::vector<std::array<index_t, 3>> s;
  for (index_t z = 0; z < nz; ++z)
    for (index_t y = 0; y < ny; ++y)
      for (index_t x = 0; x < nx; ++x) {
        if (!in(z, y, x)) continue;
        const bool interior = in(z - 1, y, x) && in(z + 1, y, x) && in(z, y - 1, x) && in(z, y + 1, x) &&
                              in(z, y, x - 1) && in(z, y, x + 1);
        if (!interior) s.push_back({z, y, x});
      }
  return s;
}

double brute_distance(const std::array<index_t, 3>& p, const std::vector<std::array<index_t, 3>>& set,
                      const std::array<double, 3>& spacing_xyz) {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& q : set) {
    const double dz = double(p[0] - q[0]) * spacing_xyz[2], dy = double(p[1] - q[1]) * spacing_xyz[1],
                 dx = double(p[2] - q[2]) * spacing_xyz[0];
    best = std::min(best, std::sqrt(dx * dx + dy * dy + dz * dz));
  }
  return best;
}

}  // namespace

TEST_CASE("metrics: identical masks give Dice 1, HD95 0, ASSD 0", "[method][metrics]") {
  const Mask m = box_mask({6, 7, 8}, {1, 2, 1}, {5, 6, 7});
  const auto s = method::score_masks(m, m, {0.7, 0.7, 5.0});
  CHECK(s.dice == 1.0);
  REQUIRE(s.hd95);
  CHECK(*s.hd95 == 0.0);
  CHECK(*s.assd == 0.0);
  CHECK(s.status == method::EmptyStatus::none);
  CHECK(s.pred_voxels == 4 * 4 * 6);
}

TEST_CASE("metrics: disjoint shifted cubes have the hand-computed HD95 and ASSD in mm", "[method][metrics]") {
  // Two 3×3×3 cubes, the second shifted by k voxels along one axis (k ≥ 3: disjoint). Each
  // surface has 26 voxels (all but the centre): 9 on the near face at distance (k − 2)·s,
  // 8 in the middle layer at (k − 1)·s, 9 on the far face at k·s. Pooled (52 values), the
  // 95th percentile lies among the 18 largest: HD95 = k·s; ASSD = (18(k−2) + 16(k−1) + 18k)/52 · s
  // = (k − 1)·s.
  const std::array<double, 3> spacing{2.0, 1.0, 3.0};  // x, y, z
  const index_t k = 4;
  const Shape shape{12, 12, 12};
  const Mask a = box_mask(shape, {2, 2, 2}, {5, 5, 5});
  SECTION("shift along x (2 mm voxels)") {
    const Mask b = box_mask(shape, {2, 2, 2 + k}, {5, 5, 5 + k});
    const auto s = method::score_masks(a, b, spacing);
    CHECK(s.dice == 0.0);
    CHECK(*s.hd95 == Approx(k * 2.0));
    CHECK(*s.assd == Approx((k - 1) * 2.0));
  }
  SECTION("shift along z (3 mm slices)") {
    const Mask b = box_mask(shape, {2 + k, 2, 2}, {5 + k, 5, 5});
    const auto s = method::score_masks(a, b, spacing);
    CHECK(*s.hd95 == Approx(k * 3.0));
    CHECK(*s.assd == Approx((k - 1) * 3.0));
    const auto d = method::surface_distances(a, b, spacing);
    CHECK(d.pred_to_ref.size() == 26);
    CHECK(d.ref_to_pred.size() == 26);
    CHECK(*std::max_element(d.pred_to_ref.begin(), d.pred_to_ref.end()) == Approx(k * 3.0));
  }
  SECTION("single voxels on a diagonal: the anisotropic Euclidean distance") {
    const Mask p = box_mask(shape, {1, 1, 1}, {2, 2, 2});
    const Mask r = box_mask(shape, {1 + 3, 1 + 2, 1 + 1}, {2 + 3, 2 + 2, 2 + 1});  // Δx 1, Δy 2, Δz 3
    const double expected = std::sqrt(2.0 * 2.0 + 2.0 * 2.0 + 9.0 * 9.0);
    const auto s = method::score_masks(p, r, spacing);
    CHECK(*s.hd95 == Approx(expected));
    CHECK(*s.assd == Approx(expected));
  }
}

TEST_CASE("metrics: overlapping cubes, Dice and distances", "[method][metrics]") {
  // Shift by one voxel along y (1.5 mm): overlap 3×2×3 = 18 of 27 + 27 → Dice 2/3. In each
  // direction, of the 26 surface voxels: the 9 on the face outside the other cube are 1.5 mm
  // from its surface; the one that sits on the other cube's centre (interior, not surface) is
  // 1 mm from it (its x-neighbour, 1 mm voxels); the other 16 lie on the other surface.
  const std::array<double, 3> spacing{1.0, 1.5, 4.0};
  const Mask a = box_mask({7, 7, 7}, {2, 2, 2}, {5, 5, 5});
  const Mask b = box_mask({7, 7, 7}, {2, 3, 2}, {5, 6, 5});
  const auto s = method::score_masks(a, b, spacing);
  CHECK(s.dice == Approx(2.0 / 3.0));
  CHECK(*s.assd == Approx((9 * 1.5 + 1.0) / 26.0));
  // 52 sorted values: 32 zeros, 2 × 1.0, 18 × 1.5; the 95th percentile (index 48.45) is 1.5.
  CHECK(*s.hd95 == Approx(1.5));
}

TEST_CASE("metrics: the empty-mask rule", "[method][metrics]") {
  const Mask empty({4, 5, 6});
  const Mask full = box_mask({4, 5, 6}, {1, 1, 1}, {3, 3, 3});
  const auto both = method::score_masks(empty, empty, {1, 1, 1});
  CHECK(both.dice == 1.0);
  CHECK_FALSE(both.hd95);
  CHECK_FALSE(both.assd);
  CHECK(both.status == method::EmptyStatus::both_empty);
  const auto no_pred = method::score_masks(empty, full, {1, 1, 1});
  CHECK(no_pred.dice == 0.0);
  CHECK_FALSE(no_pred.hd95);
  CHECK(no_pred.status == method::EmptyStatus::pred_empty);
  const auto no_ref = method::score_masks(full, empty, {1, 1, 1});
  CHECK(no_ref.dice == 0.0);
  CHECK_FALSE(no_ref.assd);
  CHECK(no_ref.status == method::EmptyStatus::ref_empty);
  CHECK(std::string(method::to_string(no_ref.status)) == "ref_empty");
}

TEST_CASE("metrics: distance transform equals brute force on random masks", "[method][metrics]") {
  std::mt19937 rng(11);
  index_t finite = 0;  // voxels with a site to measure to (an all-empty draw compares only infinities)
  const Shape shapes[] = {{1, 1, 1}, {1, 7, 5}, {3, 1, 9}, {5, 6, 7}, {4, 9, 2}, {7, 3, 8}};
  for (const auto& shape : shapes) {
    for (double density : {0.02, 0.2}) {
      const Mask sites = random_mask(shape, density, rng);
      const std::array<double, 3> spacing{0.7, 1.3, 5.0};
      const auto d = method::distance_transform(sites, spacing);
      std::vector<std::array<index_t, 3>> points;
      for (index_t z = 0; z < shape[0]; ++z)
        for (index_t y = 0; y < shape[1]; ++y)
          for (index_t x = 0; x < shape[2]; ++x)
            if (sites(z, y, x)) points.push_back({z, y, x});
      for (index_t z = 0; z < shape[0]; ++z)
        for (index_t y = 0; y < shape[1]; ++y)
          for (index_t x = 0; x < shape[2]; ++x) {
            INFO("shape " << shape << " voxel " << z << "," << y << "," << x);
            const double expected = brute_distance({z, y, x}, points, spacing);
            if (std::isinf(expected))
              REQUIRE(std::isinf(d(z, y, x)));
            else {
              REQUIRE(d(z, y, x) == Approx(expected).margin(1e-9));
              ++finite;
            }
          }
    }
  }
  CHECK(finite > 500);
}

TEST_CASE("metrics: surface distances, HD95 and ASSD equal brute force on random masks", "[method][metrics]") {
  std::mt19937 rng(5);
  int compared = 0;  // trials with both surfaces non-empty
  for (int trial = 0; trial < 12; ++trial) {
    std::uniform_int_distribution<index_t> extent(1, 11);
    const Shape shape{extent(rng), extent(rng), extent(rng)};
    const std::array<double, 3> spacing{0.6 + 0.1 * trial, 1.1, 2.0 + trial};
    const Mask a = random_mask(shape, 0.3, rng), b = random_mask(shape, 0.15, rng);
    const auto sa = brute_surface(a), sb = brute_surface(b);
    if (sa.empty() || sb.empty()) continue;
    std::vector<double> ab, ba;
    for (const auto& p : sa) ab.push_back(brute_distance(p, sb, spacing));
    for (const auto& p : sb) ba.push_back(brute_distance(p, sa, spacing));
    INFO("trial " << trial << " shape " << shape);
    const auto d = method::surface_distances(a, b, spacing);
    REQUIRE(d.pred_to_ref.size() == ab.size());
    REQUIRE(d.ref_to_pred.size() == ba.size());
    for (std::size_t i = 0; i < ab.size(); ++i) REQUIRE(d.pred_to_ref[i] == Approx(ab[i]).margin(1e-9));
    for (std::size_t i = 0; i < ba.size(); ++i) REQUIRE(d.ref_to_pred[i] == Approx(ba[i]).margin(1e-9));
    std::vector<double> all = ab;
    all.insert(all.end(), ba.begin(), ba.end());
    double sum = 0;
    for (double x : all) sum += x;
    const auto s = method::score_masks(a, b, spacing);
    CHECK(*s.hd95 == Approx(method::percentile(all, 95.0)));
    CHECK(*s.assd == Approx(sum / double(all.size())));
    ++compared;
  }
  // Skipping is for the odd degenerate draw; most trials must have compared something.
  CHECK(compared >= 8);
}

TEST_CASE("metrics: percentile interpolates like numpy, summaries count undefined values", "[method][metrics]") {
  CHECK(method::percentile({4, 1, 3, 2}, 95) == Approx(3.85));  // numpy.percentile([1,2,3,4], 95)
  CHECK(method::percentile({5}, 95) == 5.0);
  CHECK(method::percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 50) == 6.0);
  CHECK_THROWS_WITH(method::percentile({}, 95), Catch::Contains("no values"));

  const std::vector<std::optional<double>> values = {1.0, std::nullopt, 3.0, 5.0, std::nullopt};
  const auto s = method::summarize(values);
  CHECK(s.n == 3);
  CHECK(s.n_undefined == 2);
  CHECK(s.mean == Approx(3.0));
  CHECK(s.std == Approx(std::sqrt(8.0 / 3.0)));  // population std
  const auto none = method::summarize(std::vector<std::optional<double>>{std::nullopt});
  CHECK(std::isnan(none.mean));
  CHECK(none.n_undefined == 1);
}

TEST_CASE("metrics: label volumes score per structure, and shapes must match", "[method][metrics]") {
  modelmix::data::LabelVolume ref{modelmix::Tensor<modelmix::data::label_t>(Shape{3, 4, 5}), {1, 1, 1}, "ref"};
  auto pred = ref;
  pred.name = "pred";
  for (index_t i = 0; i < 20; ++i) ref.voxels[i] = pred.voxels[i] = 3;  // LV: the first slice, identical
  ref.voxels[30] = 1;                                                   // RV only in the reference
  const modelmix::data::label_t structures[] = {1, 2, 3};
  const auto scores =
      method::score_case(pred, ref, std::span<const modelmix::data::label_t>(structures), {1.0, 1.0, 1.0});
  REQUIRE(scores.size() == 3);
  CHECK(scores[0].status == method::EmptyStatus::pred_empty);
  CHECK(scores[1].status == method::EmptyStatus::both_empty);
  CHECK(scores[2].dice == 1.0);
  modelmix::data::LabelVolume other{modelmix::Tensor<modelmix::data::label_t>(Shape{3, 4, 6}), {1, 1, 1}, "other"};
  CHECK_THROWS_WITH(method::score_structure(other, ref, modelmix::data::label_t{1}, {1, 1, 1}),
                    Catch::Contains("other") && Catch::Contains("[3, 4, 6]"));
  CHECK_THROWS_WITH(method::score_masks(Mask({2, 2, 2}), Mask({2, 2, 2}), {1, 0, 1}), Catch::Contains("spacing"));
}

TEST_CASE("metrics: ACDC phases, the earlier frame of a patient is ED", "[method][metrics]") {
  const std::vector<std::string> names = {"patient071_frame01", "patient071_frame12", "patient072_frame09",
                                          "patient072_frame04", "patient073_frame01", "subject1_DE",
                                          "patientX_frame01"};
  const auto phases = method::acdc_phases(names);
  CHECK(phases.at("patient071_frame01") == method::CardiacPhase::ed);
  CHECK(phases.at("patient071_frame12") == method::CardiacPhase::es);
  CHECK(phases.at("patient072_frame04") == method::CardiacPhase::ed);
  CHECK(phases.at("patient072_frame09") == method::CardiacPhase::es);
  CHECK(phases.at("patient073_frame01") == method::CardiacPhase::unknown);  // one frame only
  CHECK(phases.at("subject1_DE") == method::CardiacPhase::unknown);
  CHECK(phases.at("patientX_frame01") == method::CardiacPhase::unknown);
  CHECK(method::parse_acdc_case("patient071_frame12")->frame == 12);
}
