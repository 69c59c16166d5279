#pragma once
// Segmentation metrics per volume and per structure, in 3D and in millimetres.
//
// For a predicted mask A and a reference mask B on the same [Z, Y, X] grid, spacing (sx, sy, sz):
//   Dice(A, B)  = 2·|A ∩ B| / (|A| + |B|)
//   S_A         = surface of A: voxels of A with at least one 6-neighbour outside A; voxels on
//                 the volume border count as surface (MedPy: A xor binary_erosion(A)).
//   d(p, S)     = min over s ∈ S of the Euclidean distance in mm between voxel centres,
//                 ‖((p−s)_x·sx, (p−s)_y·sy, (p−s)_z·sz)‖
//   D_AB        = { d(a, S_B) : a ∈ S_A },  D_BA = { d(b, S_A) : b ∈ S_B }
//   HD95(A, B)  = 95th percentile of D_AB ∪ D_BA, linear interpolation between order
//                 statistics (numpy.percentile's default) — MedPy's hd95
//   ASSD(A, B)  = mean of D_AB ∪ D_BA = (Σ D_AB + Σ D_BA) / (|S_A| + |S_B|)
//                 (MedPy's assd averages the two directed means instead; the two agree when
//                 |S_A| = |S_B|)
//
// d(·, S) over a grid is one exact Euclidean distance transform: Felzenszwalb & Huttenlocher's
// lower envelope of parabolas, one separable pass per axis with that axis's spacing, O(voxels).
// It runs on the bounding box of A ∪ B only: every site lies inside it, so the distances at
// the surface voxels (also inside) are exact.
//
// Empty masks: both empty → Dice 1, HD95/ASSD undefined (nullopt), status both_empty; exactly
// one empty → Dice 0, distances undefined, status pred_empty or ref_empty. Summaries average
// the defined values and count the undefined ones apart. Std is the population std (ddof 0).
//
// ACDC phases: a patient (patientNNN) contributes two frames; the earlier frame number is
// end-diastole (ED), the later end-systole (ES).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/volume.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::method {

using Mask = Tensor<std::uint8_t>;  // [Z, Y, X], non-zero = inside

enum class EmptyStatus { none, both_empty, pred_empty, ref_empty };

[[nodiscard]] inline const char* to_string(EmptyStatus s) {
  switch (s) {
    case EmptyStatus::none: return "ok";
    case EmptyStatus::both_empty: return "both_empty";
    case EmptyStatus::pred_empty: return "pred_empty";
    case EmptyStatus::ref_empty: return "ref_empty";
  }
  return "?";
}

struct StructureScore {
  double dice = 0.0;
  std::optional<double> hd95;  // mm
  std::optional<double> assd;  // mm
  EmptyStatus status = EmptyStatus::none;
  index_t pred_voxels = 0;
  index_t ref_voxels = 0;
};

struct SurfaceDistances {
  std::vector<double> pred_to_ref;  // D_AB, one per surface voxel of the prediction (mm)
  std::vector<double> ref_to_pred;  // D_BA
};

namespace detail {

inline void require_grid(const Shape& a, const Shape& b, const char* op) {
  MODELMIX_REQUIRE(a.rank() == 3 && a == b, op, ": masks must be [Z, Y, X] of one shape, got ", a, " and ", b);
}

inline void require_spacing(const std::array<double, 3>& spacing, const char* op) {
  for (double s : spacing)
    MODELMIX_REQUIRE(std::isfinite(s) && s > 0.0, op, ": spacing must be positive, got ", spacing[0], " x ", spacing[1],
                     " x ", spacing[2]);
}

// Half-open bounding box [lo, hi) per axis (z, y, x) of the union of two masks.
struct Box {
  std::array<index_t, 3> lo{0, 0, 0}, hi{0, 0, 0};
  [[nodiscard]] index_t extent(int a) const {
    return hi[static_cast<std::size_t>(a)] - lo[static_cast<std::size_t>(a)];
  }
  [[nodiscard]] index_t numel() const { return extent(0) * extent(1) * extent(2); }
};

inline Box union_box(const Mask& a, const Mask& b) {
  const index_t nz = a.dim(0), ny = a.dim(1), nx = a.dim(2);
  Box box{{nz, ny, nx}, {0, 0, 0}};
  for (index_t z = 0; z < nz; ++z)
    for (index_t y = 0; y < ny; ++y)
      for (index_t x = 0; x < nx; ++x) {
        const index_t i = (z * ny + y) * nx + x;
        if (a[i] == 0 && b[i] == 0) continue;
        box.lo = {std::min(box.lo[0], z), std::min(box.lo[1], y), std::min(box.lo[2], x)};
        box.hi = {std::max(box.hi[0], z + 1), std::max(box.hi[1], y + 1), std::max(box.hi[2], x + 1)};
      }
  return box;
}

// Surface voxels of `m` inside `box`, as a box-shaped 0/1 array. Neighbours outside the box
// are outside the mask (the box holds all of it) — and outside the volume count as outside too.
inline std::vector<std::uint8_t> surface_in_box(const Mask& m, const Box& box) {
  const index_t ny = m.dim(1), nx = m.dim(2);
  const index_t bz = box.extent(0), by = box.extent(1), bx = box.extent(2);
  std::vector<std::uint8_t> s(static_cast<std::size_t>(box.numel()), 0);
  auto inside = [&](index_t z, index_t y, index_t x) {
    if (z < 0 || z >= bz || y < 0 || y >= by || x < 0 || x >= bx) return false;
    return m[((z + box.lo[0]) * ny + y + box.lo[1]) * nx + x + box.lo[2]] != 0;
  };
  for (index_t z = 0; z < bz; ++z)
    for (index_t y = 0; y < by; ++y)
      for (index_t x = 0; x < bx; ++x)
        if (inside(z, y, x) && !(inside(z - 1, y, x) && inside(z + 1, y, x) && inside(z, y - 1, x) &&
                                 inside(z, y + 1, x) && inside(z, y, x - 1) && inside(z, y, x + 1)))
          s[static_cast<std::size_t>((z * by + y) * bx + x)] = 1;
  return s;
}

// 1-D squared distance transform of f (sampled at positions q·step mm) in place, over n
// samples `stride` apart: f(p) ← min_q (p·step − q·step)² + f(q). Infinite f are no sites.
// v, zb: scratch of n and n+1 elements.
inline void squared_edt_line(double* f, index_t n, index_t stride, double step, std::vector<double>& line,
                             std::vector<index_t>& v, std::vector<double>& zb) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  line.resize(static_cast<std::size_t>(n));
  v.resize(static_cast<std::size_t>(n));
  zb.resize(static_cast<std::size_t>(n) + 1);
  for (index_t q = 0; q < n; ++q) line[static_cast<std::size_t>(q)] = f[q * stride];
  index_t k = -1;
  for (index_t q = 0; q < n; ++q) {
    const double fq = line[static_cast<std::size_t>(q)];
    if (fq == inf) continue;
    double s = -inf;
    while (k >= 0) {
      // Where the parabolas of sites p < q meet, in mm; written with integer differences so
      // that no position is recomputed with a different rounding (FMA contraction).
      const index_t p = v[static_cast<std::size_t>(k)];
      s = ((fq - line[static_cast<std::size_t>(p)]) / (step * static_cast<double>(q - p)) +
           step * static_cast<double>(q + p)) /
          2.0;
      if (s > zb[static_cast<std::size_t>(k)]) break;
      --k;
    }
    ++k;
    v[static_cast<std::size_t>(k)] = q;
    zb[static_cast<std::size_t>(k)] = k == 0 ? -inf : s;
    zb[static_cast<std::size_t>(k) + 1] = inf;
  }
  if (k < 0) return;  // no site on this line: stays infinite
  index_t j = 0;
  for (index_t q = 0; q < n; ++q) {
    const double xq = static_cast<double>(q) * step;
    while (zb[static_cast<std::size_t>(j) + 1] < xq) ++j;
    const index_t p = v[static_cast<std::size_t>(j)];
    const double d = static_cast<double>(q - p) * step;  // exactly 0 at a site
    f[q * stride] = d * d + line[static_cast<std::size_t>(p)];
  }
}

// In place on a [bz, by, bx] array: 0 at sites, +inf elsewhere → squared distance in mm².
inline void squared_edt(std::vector<double>& f, index_t bz, index_t by, index_t bx,
                        const std::array<double, 3>& spacing_xyz) {
  const index_t extent[3] = {bz, by, bx};
  const index_t stride[3] = {by * bx, bx, 1};
  const double step[3] = {spacing_xyz[2], spacing_xyz[1], spacing_xyz[0]};
  for (int axis = 2; axis >= 0; --axis) {
    // Lines along `axis` start at every index whose coordinate on `axis` is 0.
    const index_t lines = bz * by * bx / extent[axis];
    const int a1 = axis == 0 ? 1 : 0, a2 = axis == 2 ? 1 : 2;  // the two other axes
#pragma omp parallel if (bz * by * bx >= 32768)
    {
      std::vector<double> line, zb;
      std::vector<index_t> v;
#pragma omp for schedule(static)
      for (index_t l = 0; l < lines; ++l) {
        const index_t i1 = l / extent[a2], i2 = l % extent[a2];
        double* start = f.data() + i1 * stride[a1] + i2 * stride[a2];
        squared_edt_line(start, extent[axis], stride[axis], step[axis], line, v, zb);
      }
    }
  }
}

}  // namespace detail

template <class L>
[[nodiscard]] Mask mask_of(const Tensor<L>& labels, L value) {
  Mask m(labels.shape());
  for (index_t i = 0; i < labels.numel(); ++i) m[i] = labels[i] == value ? 1 : 0;
  return m;
}

// Exact Euclidean distance (mm) from every voxel to the nearest non-zero voxel of `sites`;
// +inf everywhere when there is none. Spacing (x, y, z).
[[nodiscard]] inline Tensor<double> distance_transform(const Mask& sites, const std::array<double, 3>& spacing) {
  MODELMIX_REQUIRE(sites.rank() == 3, "distance_transform: sites must be [Z, Y, X], got ", sites.shape());
  detail::require_spacing(spacing, "distance_transform");
  std::vector<double> f(static_cast<std::size_t>(sites.numel()));
  for (index_t i = 0; i < sites.numel(); ++i)
    f[static_cast<std::size_t>(i)] = sites[i] != 0 ? 0.0 : std::numeric_limits<double>::infinity();
  detail::squared_edt(f, sites.dim(0), sites.dim(1), sites.dim(2), spacing);
  for (double& d : f) d = std::sqrt(d);
  return Tensor<double>(sites.shape(), std::move(f));
}

// Directed surface distances of two non-empty masks (see the definitions at the top).
[[nodiscard]] inline SurfaceDistances surface_distances(const Mask& pred, const Mask& ref,
                                                        const std::array<double, 3>& spacing) {
  detail::require_grid(pred.shape(), ref.shape(), "surface_distances");
  detail::require_spacing(spacing, "surface_distances");
  const detail::Box box = detail::union_box(pred, ref);
  MODELMIX_REQUIRE(box.numel() > 0, "surface_distances: both masks are empty");
  const auto sp = detail::surface_in_box(pred, box);
  const auto sr = detail::surface_in_box(ref, box);
  MODELMIX_REQUIRE(std::find(sp.begin(), sp.end(), 1) != sp.end() && std::find(sr.begin(), sr.end(), 1) != sr.end(),
                   "surface_distances: a mask is empty");
  SurfaceDistances out;
  auto directed = [&](const std::vector<std::uint8_t>& from, const std::vector<std::uint8_t>& to,
                      std::vector<double>& d) {
    std::vector<double> f(to.size());
    for (std::size_t i = 0; i < to.size(); ++i) f[i] = to[i] ? 0.0 : std::numeric_limits<double>::infinity();
    detail::squared_edt(f, box.extent(0), box.extent(1), box.extent(2), spacing);
    for (std::size_t i = 0; i < from.size(); ++i)
      if (from[i]) d.push_back(std::sqrt(f[i]));
  };
  directed(sp, sr, out.pred_to_ref);
  directed(sr, sp, out.ref_to_pred);
  return out;
}

// q-th percentile (0..100) with linear interpolation between order statistics (numpy default).
[[nodiscard]] inline double percentile(std::vector<double> values, double q) {
  MODELMIX_REQUIRE(!values.empty(), "percentile: no values");
  MODELMIX_REQUIRE(q >= 0.0 && q <= 100.0, "percentile: q = ", q, " is outside [0, 100]");
  std::sort(values.begin(), values.end());
  const double h = (static_cast<double>(values.size()) - 1.0) * q / 100.0;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

[[nodiscard]] inline StructureScore score_masks(const Mask& pred, const Mask& ref,
                                                const std::array<double, 3>& spacing) {
  detail::require_grid(pred.shape(), ref.shape(), "score_masks");
  detail::require_spacing(spacing, "score_masks");
  StructureScore s;
  index_t both = 0;
  for (index_t i = 0; i < pred.numel(); ++i) {
    const bool p = pred[i] != 0, r = ref[i] != 0;
    s.pred_voxels += p;
    s.ref_voxels += r;
    both += p && r;
  }
  if (s.pred_voxels == 0 && s.ref_voxels == 0) {
    s.dice = 1.0;
    s.status = EmptyStatus::both_empty;
    return s;
  }
  s.dice = 2.0 * static_cast<double>(both) / static_cast<double>(s.pred_voxels + s.ref_voxels);
  if (s.pred_voxels == 0 || s.ref_voxels == 0) {
    s.status = s.pred_voxels == 0 ? EmptyStatus::pred_empty : EmptyStatus::ref_empty;
    return s;
  }
  SurfaceDistances d = surface_distances(pred, ref, spacing);
  std::vector<double> all = std::move(d.pred_to_ref);
  all.insert(all.end(), d.ref_to_pred.begin(), d.ref_to_pred.end());
  double sum = 0.0;
  for (double x : all) sum += x;
  s.assd = sum / static_cast<double>(all.size());
  s.hd95 = percentile(std::move(all), 95.0);
  return s;
}

// One structure (label value) of a predicted and a reference label volume.
template <class L>
[[nodiscard]] StructureScore score_structure(const data::Volume<L>& pred, const data::Volume<L>& ref, L label,
                                             const std::array<double, 3>& spacing) {
  MODELMIX_REQUIRE(pred.voxels.shape() == ref.voxels.shape(), "score_structure: prediction ", pred.name, " has shape ",
                   pred.voxels.shape(), ", reference ", ref.name, " has ", ref.voxels.shape());
  return score_masks(mask_of(pred.voxels, label), mask_of(ref.voxels, label), spacing);
}

// Every listed structure; spacing usually the reference's.
template <class L>
[[nodiscard]] std::vector<StructureScore> score_case(const data::Volume<L>& pred, const data::Volume<L>& ref,
                                                     std::span<const L> labels, const std::array<double, 3>& spacing) {
  std::vector<StructureScore> out;
  for (L label : labels) out.push_back(score_structure(pred, ref, label, spacing));
  return out;
}

struct Summary {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std = std::numeric_limits<double>::quiet_NaN();  // population std (ddof 0)
  index_t n = 0;                                          // defined values
  index_t n_undefined = 0;                                // e.g. HD95 of a case with an empty mask
};

[[nodiscard]] inline Summary summarize(std::span<const std::optional<double>> values) {
  Summary s;
  double sum = 0.0;
  for (const auto& v : values) {
    if (!v || !std::isfinite(*v)) {
      ++s.n_undefined;
      continue;
    }
    sum += *v;
    ++s.n;
  }
  if (s.n == 0) return s;
  s.mean = sum / static_cast<double>(s.n);
  double sq = 0.0;
  for (const auto& v : values)
    if (v && std::isfinite(*v)) sq += (*v - s.mean) * (*v - s.mean);
  s.std = std::sqrt(sq / static_cast<double>(s.n));
  return s;
}

[[nodiscard]] inline Summary summarize(std::span<const double> values) {
  std::vector<std::optional<double>> v(values.begin(), values.end());
  return summarize(std::span<const std::optional<double>>(v));
}

// ---- ACDC end-diastole / end-systole --------------------------------------------------------

enum class CardiacPhase { ed, es, unknown };

[[nodiscard]] inline const char* to_string(CardiacPhase p) {
  return p == CardiacPhase::ed ? "ED" : p == CardiacPhase::es ? "ES" : "unknown";
}

struct AcdcCaseId {
  std::string patient;  // "patient071"
  int frame = 0;        // 1 for "frame01"
};

// "patient071_frame01" → {patient071, 1}; anything else → nullopt.
[[nodiscard]] inline std::optional<AcdcCaseId> parse_acdc_case(const std::string& name) {
  const auto at = name.find("_frame");
  if (at == std::string::npos || name.rfind("patient", 0) != 0 || at == 7) return std::nullopt;
  const std::string digits = name.substr(at + 6);
  if (digits.empty() || digits.size() > 4 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  const std::string pid = name.substr(7, at - 7);
  if (!std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return AcdcCaseId{name.substr(0, at), std::stoi(digits)};
}

// Phase of each case: of a patient's two frames the earlier is ED, the later ES. A patient
// with one frame (or more than two), and names that are not ACDC ids, are unknown.
[[nodiscard]] inline std::map<std::string, CardiacPhase> acdc_phases(std::span<const std::string> names) {
  std::map<std::string, std::vector<std::pair<int, std::string>>> by_patient;
  std::map<std::string, CardiacPhase> out;
  for (const auto& name : names) {
    out[name] = CardiacPhase::unknown;
    if (const auto id = parse_acdc_case(name)) by_patient[id->patient].emplace_back(id->frame, name);
  }
  for (auto& [patient, frames] : by_patient) {
    if (frames.size() != 2 || frames[0].first == frames[1].first) continue;
    std::sort(frames.begin(), frames.end());
    out[frames[0].second] = CardiacPhase::ed;
    out[frames[1].second] = CardiacPhase::es;
  }
  return out;
}

}  // namespace modelmix::method
