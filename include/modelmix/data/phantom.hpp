#pragma once
// A synthetic cardiac MRI phantom: the built-in default dataset, deterministic from a seed.
//
// Each subject is a stack of short-axis slices, volume [Z, Y, X] (Z = 8–12 by default,
// Y = X = 96), slice 0 at the base and slice Z−1 at the apex, with
//   label    [Z, Y, X]  dense classes 0 bg, 1 RV, 2 Myo, 3 LV
//   scribble [Z, Y, X]  thin strokes with the same ids, 4 = unlabeled (~1–4 % scribbled)
//   image    [Z, Y, X]  raw non-negative integer-valued intensities on a per-subject scale,
//                       so the pipeline must normalise them as it does real scans.
//
// Geometry, in polar coordinates (r, θ) about the LV centre c(z):
//   endocardium  R_endo(θ) = r_lv(z) · (1 + e·cos 2(θ − θ_e))
//   epicardium   R_epi(θ)  = R_endo(θ) + w(z) · (1 + a·cos(θ − ψ))      (wall thickness varies)
//   RV           inside the ellipse centred at c + o·u_φ, semi-axes (o + depth, span·R_epi)
//                along/across the direction φ, and outside the epicardium: a crescent that
//                touches the LV only at the septum. A thin RV free wall and an epicardial fat
//                layer around the heart are background, as in the ACDC/MS-CMR masks.
//   r_lv, w and depth shrink from base to apex; the apex slice may have a closed cavity,
//   RV may vanish, and a last slice may lie beyond the apex with no heart at all.
// Around the heart: a body ellipse with a subcutaneous fat rim, two lungs, the spine, the
// descending aorta (bright, round and blood-like but without a myocardial ring), the liver
// in apical slices and a few random blobs.
//
// Image formation: tissue intensities (per modality, jittered per subject) → smooth texture
// → Gaussian blur (partial volume, σ = 0.6 px) → multiplicative bias field → gain → noise.
//   cine: bright blood, dark myocardium, mild bias, Gaussian noise (magnitude taken).
//   lge:  darker blood, nulled (dark) myocardium with bright scar patches in sectors of the
//         wall over a run of slices, strong smooth bias field, Rician noise
//         |v + σ·n₁ + i·σ·n₂|.
// Scribbles follow the anatomy like hand-drawn ones: the myocardial mid-wall over an arc,
// a short curve inside the LV cavity, the RV crescent's medial curve, and a background
// contour a few pixels outside the heart (plus sometimes a short stroke farther out), each
// 1–2 px wide and clipped to its own dense class, so every slice has a background scribble.
//
// Anatomy scales with min(width, height)/96, so a 192² phantom is a 96² one at twice the
// resolution. Randomness comes from data::random_source only (see data/random.hpp).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/random.hpp"
#include "modelmix/data/volume.hpp"

namespace modelmix::data {

enum class phantom_modality { cine, lge };

[[nodiscard]] inline const char* to_string(phantom_modality m) { return m == phantom_modality::cine ? "cine" : "lge"; }

struct phantom_options {
  phantom_modality modality = phantom_modality::cine;
  index_t width = 96;   // X
  index_t height = 96;  // Y
  index_t min_slices = 8;
  index_t max_slices = 12;
  std::array<double, 3> spacing{1.5, 1.5, 8.0};  // mm along x, y, z
  double noise = 1.0;  // multiplies the modality's noise level; 0 gives noiseless images
  double bias = 1.0;   // multiplies the modality's bias-field strength; 0 switches it off
  std::uint64_t seed = 0;
};

struct phantom_case {
  ImageVolume image;     // raw intensities
  LabelVolume label;     // dense 0..3
  LabelVolume scribble;  // 0..3 strokes, 4 elsewhere
};

namespace phantom_detail {

inline constexpr label_t bg = 0, rv = 1, myo = 2, lv = 3, unlabeled = 4;
inline constexpr double pi = std::numbers::pi;

// Tissue intensities before bias, gain and noise (blood of cine ≈ 1).
struct contrast {
  double air, soft, fat, lung, liver, spine, vessel, blood, myo, scar;
  double noise_sigma, bias_strength;
  bool rician;
};

[[nodiscard]] inline contrast contrast_of(phantom_modality m) {
  if (m == phantom_modality::cine) return {0.02, 0.36, 0.80, 0.06, 0.46, 0.30, 0.92, 0.95, 0.27, 0.27, 0.035, 0.08, false};
  return {0.02, 0.30, 0.68, 0.05, 0.33, 0.22, 0.52, 0.55, 0.11, 0.95, 0.05, 0.30, true};
}

[[nodiscard]] inline double wrap_angle(double a) {  // → [−π, π)
  a = std::fmod(a + pi, 2 * pi);
  if (a < 0) a += 2 * pi;
  return a - pi;
}

struct ellipse {
  double cx = 0, cy = 0, ax = 1, ay = 1, cos_rot = 1, sin_rot = 0;
  [[nodiscard]] static ellipse make(double cx, double cy, double ax, double ay, double rot) {
    return {cx, cy, ax, ay, std::cos(rot), std::sin(rot)};
  }
  [[nodiscard]] double level(double x, double y, double grow = 0) const {  // < 1 inside
    const double dx = x - cx, dy = y - cy;
    const double u = dx * cos_rot + dy * sin_rot, v = -dx * sin_rot + dy * cos_rot;
    return (u * u) / ((ax + grow) * (ax + grow)) + (v * v) / ((ay + grow) * (ay + grow));
  }
};

struct blob {
  ellipse shape;
  double intensity = 0;
  index_t z0 = 0, z1 = 0;
};

struct scar_patch {
  double theta = 0, half_width = 0, transmurality = 1;
  index_t z0 = 0, z1 = 0;
};

// Everything drawn once per subject.
struct subject {
  index_t nz = 0, heart_slices = 0;
  double k = 1;  // anatomy scale
  contrast tissue{};
  double gain = 1;
  ellipse body;
  double body_fat = 0;
  ellipse lungs[2];
  ellipse spine, aorta, liver;
  double liver_start = 1;
  std::vector<blob> blobs;
  double lv_cx = 0, lv_cy = 0, drift_x = 0, drift_y = 0;
  double r_lv = 0, wall = 0, wall_amp = 0, wall_psi = 0, ell = 0, ell_theta = 0;
  double phi = 0, cos_phi = 1, sin_phi = 0, rv_depth = 0, rv_span = 0, rv_wall = 0, rv_taper = 0;
  double fat_width = 0, fat_theta = 0;
  bool apex_closed = false;
  std::vector<scar_patch> scars;
  std::array<double, 6> bias{};
  int fg_brush = 1, bg_brush = 1;
};

// The heart of one slice.
struct heart_slice {
  bool present = false;
  double cx = 0, cy = 0, r_lv = 0, wall = 0;
  bool rv_present = false;
  double rv_offset = 0, rv_a = 0, rv_b = 0;
};

[[nodiscard]] inline subject draw_subject(const phantom_options& o, random_source& rng) {
  subject s;
  const double W = double(o.width), H = double(o.height);
  s.k = std::min(W, H) / 96.0;
  const double k = s.k;
  s.nz = rng.between(o.min_slices, o.max_slices);
  s.heart_slices = (s.nz > 3 && rng.bernoulli(0.25)) ? s.nz - 1 : s.nz;

  s.tissue = contrast_of(o.modality);
  // Per-subject contrast jitter: scanners and patients differ.
  for (double* v : {&s.tissue.soft, &s.tissue.fat, &s.tissue.lung, &s.tissue.liver, &s.tissue.spine, &s.tissue.vessel,
                    &s.tissue.blood, &s.tissue.myo, &s.tissue.scar})
    *v *= rng.uniform(0.9, 1.1);
  s.tissue.noise_sigma *= o.noise;
  s.tissue.bias_strength *= o.bias;
  s.gain = rng.uniform(300.0, 2000.0);

  // The field of view is a crop around the heart, so the body outline leaves it on the sides.
  s.body = ellipse::make(W / 2 + rng.normal(0, 2 * k), H / 2 + rng.normal(0, 2 * k), rng.uniform(0.52, 0.62) * W,
            rng.uniform(0.42, 0.50) * H, rng.uniform(-0.12, 0.12));
  s.body_fat = rng.uniform(2.0, 4.0) * k;

  s.phi = pi + rng.uniform(-0.5, 0.5);  // RV towards the image's left, as usually displayed
  s.cos_phi = std::cos(s.phi);
  s.sin_phi = std::sin(s.phi);
  s.r_lv = rng.uniform(10.5, 15.0) * k;
  s.wall = rng.uniform(4.5, 6.5) * k;
  s.wall_amp = rng.uniform(0.1, 0.3);
  s.wall_psi = rng.uniform(0, 2 * pi);
  s.ell = rng.uniform(0, 0.12);
  s.ell_theta = rng.uniform(0, pi);
  s.rv_depth = rng.uniform(6.5, 11.0) * k;
  s.rv_span = rng.uniform(1.0, 1.2);
  s.rv_wall = rng.uniform(1.0, 1.8) * k;
  s.rv_taper = rng.uniform(0.9, 1.3);
  s.fat_width = rng.uniform(0.8, 2.2) * k;
  s.fat_theta = rng.uniform(0, 2 * pi);
  s.apex_closed = rng.bernoulli(0.4);
  // Centre the LV+RV complex, not the LV alone.
  s.lv_cx = W / 2 + rng.normal(0, 2.5 * k) - std::cos(s.phi) * s.rv_depth * 0.6;
  s.lv_cy = H / 2 + rng.normal(0, 2.5 * k) - std::sin(s.phi) * s.rv_depth * 0.6;
  s.drift_x = rng.uniform(-3, 3) * k;
  s.drift_y = rng.uniform(-3, 3) * k;

  // Lungs beyond the LV's free wall, one to each side of the axis opposite the RV.
  for (int i = 0; i < 2; ++i) {
    const double angle = s.phi + pi + (i == 0 ? -1.0 : 1.0) * rng.uniform(0.5, 1.1);
    const double ax = rng.uniform(8.0, 12.0) * k, ay = rng.uniform(14.0, 20.0) * k;
    const double d = s.r_lv + s.wall + s.fat_width + rng.uniform(3.0, 7.0) * k + ax;
    s.lungs[i] = ellipse::make(s.lv_cx + d * std::cos(angle), s.lv_cy + d * std::sin(angle), ax, ay, angle + rng.uniform(-0.3, 0.3));
  }
  const double spine_r = rng.uniform(5.0, 7.0) * k;
  s.spine = ellipse::make(s.body.cx + rng.normal(0, 2 * k), s.body.cy + s.body.ay - rng.uniform(7.0, 10.0) * k - spine_r, spine_r, spine_r, 0);
  const double aorta_r = rng.uniform(3.5, 5.0) * k;
  s.aorta = ellipse::make(s.spine.cx + rng.uniform(-10.0, -4.0) * k, s.spine.cy - rng.uniform(9.0, 12.0) * k, aorta_r, aorta_r, 0);
  s.liver = ellipse::make(s.lv_cx + rng.uniform(8.0, 18.0) * k, s.lv_cy + rng.uniform(24.0, 32.0) * k,
                          rng.uniform(22.0, 30.0) * k, rng.uniform(14.0, 20.0) * k, rng.uniform(-0.3, 0.3));
  s.liver_start = rng.uniform(0.3, 0.7);

  // Blobs (vessels, bowel, other organs) away from the heart so they never touch it.
  const double heart_extent = s.r_lv + s.wall * 1.3 + s.rv_depth + s.rv_wall + s.fat_width + 4 * k;
  const index_t n_blobs = rng.between(2, 4);
  for (index_t b = 0; b < n_blobs; ++b) {
    blob bl;
    const double r = rng.uniform(2.5, 6.0) * k;
    const double aspect = rng.uniform(0.6, 1.4);
    bl.intensity = rng.uniform(0.15, 0.8) * s.tissue.blood / 0.95 * (o.modality == phantom_modality::cine ? 1.0 : 1.3);
    bl.z0 = rng.between(0, s.nz - 1);
    bl.z1 = std::min(s.nz - 1, bl.z0 + rng.between(1, s.nz));
    bool placed = false;
    for (int attempt = 0; attempt < 40 && !placed; ++attempt) {
      const double x = rng.uniform(0, W), y = rng.uniform(0, H);
      const double dist = std::hypot(x - s.lv_cx, y - s.lv_cy);
      if (dist > heart_extent + r * std::max(aspect, 1.0) + 2 * k && s.body.level(x, y, -s.body_fat - r) < 1) {
        bl.shape = ellipse::make(x, y, r * aspect, r / aspect, rng.uniform(0, pi));
        placed = true;
      }
    }
    if (placed) s.blobs.push_back(bl);
  }

  if (o.modality == phantom_modality::lge) {
    const index_t n_scars = rng.bernoulli(0.85) ? rng.between(1, 2) : 0;
    for (index_t i = 0; i < n_scars; ++i) {
      scar_patch p;
      p.theta = rng.uniform(0, 2 * pi);
      p.half_width = rng.uniform(0.45, 1.0);
      p.transmurality = rng.uniform(0.35, 1.0);
      p.z0 = rng.between(0, std::max<index_t>(0, s.heart_slices - 2));
      p.z1 = std::min(s.heart_slices - 1, p.z0 + rng.between(1, std::max<index_t>(2, s.heart_slices / 2)));
      s.scars.push_back(p);
    }
  }
  for (double& c : s.bias) c = rng.uniform(-1, 1) * s.tissue.bias_strength;
  s.fg_brush = rng.bernoulli(0.3) ? 2 : 1;
  s.bg_brush = rng.bernoulli(0.15) ? 2 : 1;
  return s;
}

[[nodiscard]] inline heart_slice heart_at(const subject& s, index_t z) {
  heart_slice h;
  if (z >= s.heart_slices) return h;
  const double t = s.heart_slices > 1 ? double(z) / double(s.heart_slices - 1) : 0.0;  // 0 base, 1 apex
  h.present = true;
  h.cx = s.lv_cx + s.drift_x * t;
  h.cy = s.lv_cy + s.drift_y * t;
  h.r_lv = s.r_lv * (1 - 0.55 * std::pow(t, 1.5));
  if (s.apex_closed && z == s.heart_slices - 1 && s.heart_slices > 1) h.r_lv = 0;
  h.wall = s.wall * (1 - 0.15 * t);
  const double depth = s.rv_depth * (1 - s.rv_taper * std::pow(t, 1.4));
  h.rv_present = depth >= 2.5 * s.k && h.r_lv > 0;
  if (h.rv_present) {
    const double r_epi = h.r_lv + h.wall;
    h.rv_offset = 0.5 * r_epi;
    h.rv_a = 0.5 * r_epi + depth;
    h.rv_b = s.rv_span * r_epi;
  }
  return h;
}

// Tissue at one point of a slice: the dense label and the clean intensity.
struct tissue_sample {
  label_t label;
  double intensity;
};

[[nodiscard]] inline tissue_sample sample_tissue(const subject& s, const heart_slice& h, index_t z, double x, double y) {
  const contrast& c = s.tissue;
  if (h.present) {
    const double dx = x - h.cx, dy = y - h.cy;
    const double r = std::hypot(dx, dy), theta = std::atan2(dy, dx);
    const double r_endo = h.r_lv * (1 + s.ell * std::cos(2 * (theta - s.ell_theta)));
    const double r_epi = r_endo + h.wall * (1 + s.wall_amp * std::cos(theta - s.wall_psi));
    if (r < r_endo) return {lv, c.blood};
    if (r < r_epi) {
      for (const scar_patch& p : s.scars) {
        const double depth = (r - r_endo) / (r_epi - r_endo);
        if (z >= p.z0 && z <= p.z1 && std::abs(wrap_angle(theta - p.theta)) < p.half_width && depth < p.transmurality)
          return {myo, c.scar};
      }
      return {myo, c.myo};
    }
    const double fat = s.fat_width * (0.5 + 0.5 * std::cos(theta - s.fat_theta));
    if (h.rv_present) {
      const ellipse rv_shape{h.cx + h.rv_offset * s.cos_phi, h.cy + h.rv_offset * s.sin_phi, h.rv_a, h.rv_b, s.cos_phi, s.sin_phi};
      if (rv_shape.level(x, y) < 1) return {rv, c.blood};
      if (rv_shape.level(x, y, s.rv_wall) < 1) return {bg, c.myo};
      if (rv_shape.level(x, y, s.rv_wall + fat) < 1) return {bg, c.fat};
    }
    if (r < r_epi + fat) return {bg, c.fat};
  }
  const double t = s.heart_slices > 1 ? double(z) / double(s.heart_slices - 1) : 0.0;
  if (s.body.level(x, y) >= 1) return {bg, c.air};
  if (s.body.level(x, y, -s.body_fat) >= 1) return {bg, c.fat};
  for (const blob& b : s.blobs)
    if (z >= b.z0 && z <= b.z1 && b.shape.level(x, y) < 1) return {bg, b.intensity};
  if (s.aorta.level(x, y) < 1) return {bg, c.vessel};
  if (s.spine.level(x, y) < 1) return {bg, c.spine};
  if (t > s.liver_start) {
    const double grow = std::min(1.0, (t - s.liver_start) / std::max(1e-6, 1 - s.liver_start));
    ellipse liver = s.liver;
    liver.ax *= 0.5 + 0.5 * grow;
    liver.ay *= 0.5 + 0.5 * grow;
    if (liver.level(x, y) < 1) return {bg, c.liver};
  }
  for (const ellipse& lung : s.lungs)
    if (lung.level(x, y) < 1) return {bg, c.lung};
  return {bg, c.soft};
}

// Separable Gaussian blur of a [H, W] field with edge clamping.
inline void gaussian_blur(std::vector<double>& field, index_t W, index_t H, double sigma) {
  if (sigma <= 0) return;
  const int radius = std::max(1, int(std::ceil(3 * sigma)));
  std::vector<double> kernel(std::size_t(2 * radius + 1));
  double total = 0;
  for (int i = -radius; i <= radius; ++i) total += kernel[std::size_t(i + radius)] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (double& v : kernel) v /= total;
  std::vector<double> tmp(field.size());
  for (index_t y = 0; y < H; ++y)
    for (index_t x = 0; x < W; ++x) {
      double acc = 0;
      for (int i = -radius; i <= radius; ++i)
        acc += kernel[std::size_t(i + radius)] * field[std::size_t(y * W + std::clamp<index_t>(x + i, 0, W - 1))];
      tmp[std::size_t(y * W + x)] = acc;
    }
  for (index_t y = 0; y < H; ++y)
    for (index_t x = 0; x < W; ++x) {
      double acc = 0;
      for (int i = -radius; i <= radius; ++i)
        acc += kernel[std::size_t(i + radius)] * tmp[std::size_t(std::clamp<index_t>(y + i, 0, H - 1) * W + x)];
      field[std::size_t(y * W + x)] = acc;
    }
}

// ---- scribbles ------------------------------------------------------------------------

struct stroke_canvas {
  std::span<const label_t> label;
  std::span<label_t> scribble;
  index_t W, H;

  [[nodiscard]] label_t at(double x, double y) const {
    const auto xi = index_t(std::lround(x)), yi = index_t(std::lround(y));
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) return unlabeled;
    return label[std::size_t(yi * W + xi)];
  }
  // A brush dab at (x, y), clipped to pixels whose dense label is `cls`.
  void dab(double x, double y, int brush, label_t cls) {
    const index_t x0 = brush == 1 ? index_t(std::lround(x)) : index_t(std::floor(x - 0.5));
    const index_t y0 = brush == 1 ? index_t(std::lround(y)) : index_t(std::floor(y - 0.5));
    for (index_t yy = y0; yy < y0 + brush; ++yy)
      for (index_t xx = x0; xx < x0 + brush; ++xx)
        if (xx >= 0 && yy >= 0 && xx < W && yy < H && label[std::size_t(yy * W + xx)] == cls)
          scribble[std::size_t(yy * W + xx)] = cls;
  }
  // A polyline through `points` (consecutive points joined), sampled every 0.3 px.
  void polyline(const std::vector<std::array<double, 2>>& points, int brush, label_t cls) {
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (i == 0) {
        dab(points[0][0], points[0][1], brush, cls);
        continue;
      }
      const auto& a = points[i - 1];
      const auto& b = points[i];
      const int steps = std::max(1, int(std::ceil(std::hypot(b[0] - a[0], b[1] - a[1]) / 0.3)));
      for (int s = 1; s <= steps; ++s) {
        const double f = double(s) / steps;
        dab(a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), brush, cls);
      }
    }
  }
  // First run of class `cls` along the ray from (cx, cy) at angle θ: [r_in, r_out), or r_out < 0.
  [[nodiscard]] std::array<double, 2> run(double cx, double cy, double theta, label_t cls) const {
    const double r_max = double(W + H), step = 0.25;
    double r_in = -1;
    for (double r = 0; r < r_max; r += step) {
      const label_t l = at(cx + r * std::cos(theta), cy + r * std::sin(theta));
      if (l == unlabeled) break;  // left the image, and a ray never comes back
      if (l == cls && r_in < 0) r_in = r;
      if (l != cls && r_in >= 0) return {r_in, r};
    }
    return {r_in, -1.0};  // no run, or one cut by the image border
  }
  // Outermost radius along the ray that is heart (1, 2 or 3), or 0.
  [[nodiscard]] double heart_extent(double cx, double cy, double theta) const {
    double last = 0;
    for (double r = 0; r < double(W + H); r += 0.25) {
      const label_t l = at(cx + r * std::cos(theta), cy + r * std::sin(theta));
      if (l == unlabeled) break;
      if (l >= rv && l <= lv) last = r;
    }
    return last;
  }
};

inline constexpr int ray_count = 360;

[[nodiscard]] inline double ray_angle(int i) { return 2 * pi * i / ray_count; }

// Points at fraction `where` ∈ [0, 1] through the first run of `cls` along rays of an arc
// starting at ray `first` for `count` rays; a missing run splits the curve.
inline void draw_radial_curve(stroke_canvas& canvas, const heart_slice& h, label_t cls, int first, int count, double where,
                              int brush) {
  std::vector<std::array<double, 2>> points;
  for (int i = 0; i < count; ++i) {
    const double theta = ray_angle((first + i) % ray_count);
    const auto run = canvas.run(h.cx, h.cy, theta, cls);
    if (run[1] < 0) {
      canvas.polyline(points, brush, cls);
      points.clear();
      continue;
    }
    const double r = run[0] + where * (run[1] - run[0]);
    points.push_back({h.cx + r * std::cos(theta), h.cy + r * std::sin(theta)});
  }
  canvas.polyline(points, brush, cls);
}

inline void draw_scribbles(stroke_canvas& canvas, const subject& s, const heart_slice& h, random_source& rng) {
  const int fg = s.fg_brush;
  // Wider brushes draw shorter strokes, keeping the scribbled fraction near 2–4 %.
  const double fg_length = fg == 2 ? 0.75 : 1.0, bg_length = s.bg_brush == 2 ? 0.6 : 1.0;
  if (h.present) {
    // Myocardium: the mid-wall over most of the ring.
    draw_radial_curve(canvas, h, myo, int(rng.below(ray_count)), int(fg_length * rng.uniform(0.4, 0.75) * ray_count), 0.5, fg);
    // LV: a curve through the inner part of the cavity.
    if (h.r_lv > 0)
      draw_radial_curve(canvas, h, lv, int(rng.below(ray_count)), int(fg_length * rng.uniform(0.3, 0.6) * ray_count),
                        rng.uniform(0.3, 0.55), fg);
    // RV: the crescent's medial curve over the middle part of its angular extent.
    if (h.rv_present) {
      std::vector<int> hits;
      for (int i = 0; i < ray_count; ++i) {
        const int ray = (int(std::lround(s.phi / (2 * pi) * ray_count)) + ray_count / 2 + i) % ray_count;  // start opposite φ
        if (canvas.run(h.cx, h.cy, ray_angle(ray), rv)[1] >= 0) hits.push_back(ray);
      }
      if (!hits.empty()) {
        const auto n = index_t(hits.size());
        const index_t keep = std::max<index_t>(1, index_t(fg_length * rng.uniform(0.45, 0.8) * double(n)));
        const index_t start = rng.below(n - keep + 1);
        draw_radial_curve(canvas, h, rv, hits[std::size_t(start)], int(keep), 0.5, fg);
      }
    }
  }
  // Background: a contour a few pixels outside the heart (a circle when there is no heart).
  const double cx = h.present ? h.cx : double(canvas.W) / 2, cy = h.present ? h.cy : double(canvas.H) / 2;
  const double margin = rng.uniform(3.5, 6.5) * s.k;
  std::array<double, ray_count> extent{};
  const double no_heart_radius = rng.uniform(12.0, 22.0) * s.k;
  for (int i = 0; i < ray_count; ++i) extent[std::size_t(i)] = h.present ? canvas.heart_extent(cx, cy, ray_angle(i)) : 0.0;
  std::vector<std::array<double, 2>> contour;
  const int first = int(rng.below(ray_count)), count = int(bg_length * rng.uniform(0.35, 0.75) * ray_count);
  for (int i = 0; i < count; ++i) {
    const int ray = (first + i) % ray_count;
    double r = 0;  // smoothed extent: max over ±12°, so the contour clears the RV tips
    for (int d = -12; d <= 12; ++d) r = std::max(r, extent[std::size_t((ray + d + ray_count) % ray_count)]);
    r = h.present ? r + margin : no_heart_radius;
    contour.push_back({cx + r * std::cos(ray_angle(ray)), cy + r * std::sin(ray_angle(ray))});
  }
  canvas.polyline(contour, s.bg_brush, bg);
  // A radial stroke from the contour out across the chest wall and its fat layer to the edge
  // of the image: annotators mark the bright tissue that looks like blood as background too,
  // and without it a network trained on scribbles labels the body wall as ventricle.
  {
    const int ray = int(rng.below(ray_count));
    const double theta = ray_angle(ray);
    const double r0 = (h.present ? extent[std::size_t(ray)] : no_heart_radius) + margin;
    const double r1 = r0 + bg_length * double(canvas.W + canvas.H);  // clipped at the image border
    canvas.polyline({{cx + r0 * std::cos(theta), cy + r0 * std::sin(theta)}, {cx + r1 * std::cos(theta), cy + r1 * std::sin(theta)}},
                    1, bg);
  }
  // Sometimes a short straight stroke farther out in the body.
  if (rng.bernoulli(0.5)) {
    const int ray = int(rng.below(ray_count));
    const double theta = ray_angle(ray);
    const double r = (h.present ? extent[std::size_t(ray)] : no_heart_radius) + margin + rng.uniform(6.0, 14.0) * s.k;
    const double px = cx + r * std::cos(theta), py = cy + r * std::sin(theta);
    const double along = theta + pi / 2 + rng.uniform(-0.4, 0.4), half = rng.uniform(4.0, 10.0) * s.k;
    canvas.polyline({{px - half * std::cos(along), py - half * std::sin(along)}, {px + half * std::cos(along), py + half * std::sin(along)}},
                    s.bg_brush, bg);
  }
  // Guarantee: every slice carries a background scribble (the contour may leave the image).
  bool has_bg = false;
  for (index_t i = 0; i < canvas.W * canvas.H && !has_bg; ++i) has_bg = canvas.scribble[std::size_t(i)] == bg;
  for (double grow = 0; !has_bg && grow < double(canvas.W + canvas.H); grow += 2) {
    // Closed contours, first just outside the heart, then farther out, until one lands.
    std::vector<std::array<double, 2>> ring;
    for (int i = 0; i <= ray_count; ++i) {
      const double r = (h.present ? extent[std::size_t(i % ray_count)] + 2 : 4.0) + grow;
      ring.push_back({cx + r * std::cos(ray_angle(i)), cy + r * std::sin(ray_angle(i))});
    }
    canvas.polyline(ring, 1, bg);
    for (index_t i = 0; i < canvas.W * canvas.H && !has_bg; ++i) has_bg = canvas.scribble[std::size_t(i)] == bg;
  }
}

}  // namespace phantom_detail

// Subject `subject_index` of the phantom described by `options`: the same (options, index)
// always gives the same bytes; cine and LGE subjects with equal seeds are different people.
[[nodiscard]] inline phantom_case make_phantom_case(const phantom_options& options, index_t subject_index) {
  namespace pd = phantom_detail;
  MODELMIX_REQUIRE(options.width >= 16 && options.height >= 16, "make_phantom_case: width and height must be ≥ 16, got ",
                   options.width, "×", options.height);
  MODELMIX_REQUIRE(options.min_slices >= 1 && options.min_slices <= options.max_slices,
                   "make_phantom_case: need 1 ≤ min_slices ≤ max_slices, got ", options.min_slices, ", ", options.max_slices);
  MODELMIX_REQUIRE(options.noise >= 0 && options.bias >= 0, "make_phantom_case: noise and bias must be ≥ 0, got ",
                   options.noise, ", ", options.bias);
  MODELMIX_REQUIRE(subject_index >= 0, "make_phantom_case: negative subject index ", subject_index);

  random_source rng(derive_seed(options.seed, std::uint64_t(subject_index), options.modality == phantom_modality::cine ? 0xC1 : 0x1E));
  const pd::subject s = pd::draw_subject(options, rng);
  const index_t W = options.width, H = options.height, Z = s.nz;

  phantom_case out;
  const std::string name = std::string("phantom_") + to_string(options.modality) + "_" + std::to_string(subject_index);
  out.image = {Tensor<float>(Shape{Z, H, W}), options.spacing, name};
  out.label = {Tensor<label_t>(Shape{Z, H, W}, pd::bg), options.spacing, name};
  out.scribble = {Tensor<label_t>(Shape{Z, H, W}, pd::unlabeled), options.spacing, name};

  const std::size_t plane = std::size_t(W * H);
  std::vector<double> field(plane), texture(plane);
  for (index_t z = 0; z < Z; ++z) {
    const pd::heart_slice h = pd::heart_at(s, z);
    std::span<label_t> label = out.label.slice(z);
    for (index_t y = 0; y < H; ++y)
      for (index_t x = 0; x < W; ++x) {
        const pd::tissue_sample t = pd::sample_tissue(s, h, z, double(x), double(y));
        label[std::size_t(y * W + x)] = t.label;
        field[std::size_t(y * W + x)] = t.intensity;
      }
    // Smooth texture so flat regions are not perfectly flat (not on air).
    for (double& v : texture) v = rng.normal();
    pd::gaussian_blur(texture, W, H, 1.5 * s.k);
    for (std::size_t i = 0; i < plane; ++i)
      if (field[i] > s.tissue.air) field[i] += 0.08 * texture[i];
    pd::gaussian_blur(field, W, H, 0.6 * s.k);

    const double t = Z > 1 ? double(z) / double(Z - 1) - 0.5 : 0.0;
    const double sigma = s.tissue.noise_sigma;
    std::span<float> image = out.image.slice(z);
    for (index_t y = 0; y < H; ++y)
      for (index_t x = 0; x < W; ++x) {
        const double X = 2 * double(x) / double(W - 1) - 1, Y = 2 * double(y) / double(H - 1) - 1;
        const auto& b = s.bias;
        const double bias = std::exp(b[0] * X + b[1] * Y + b[2] * X * Y + 0.5 * b[3] * X * X + 0.5 * b[4] * Y * Y + 0.3 * b[5] * t);
        const double clean = field[std::size_t(y * W + x)] * bias;
        const double n1 = rng.normal(), n2 = rng.normal();
        const double noisy = s.tissue.rician ? std::hypot(clean + sigma * n1, sigma * n2) : std::abs(clean + sigma * n1);
        image[std::size_t(y * W + x)] = float(std::round(noisy * s.gain));
      }

    pd::stroke_canvas canvas{out.label.slice(z), out.scribble.slice(z), W, H};
    pd::draw_scribbles(canvas, s, h, rng);
  }
  return out;
}

// Subjects first_subject, …, first_subject + count − 1.
[[nodiscard]] inline std::vector<phantom_case> make_phantom_dataset(const phantom_options& options, index_t count,
                                                                    index_t first_subject = 0) {
  MODELMIX_REQUIRE(count >= 0, "make_phantom_dataset: negative count ", count);
  std::vector<phantom_case> cases;
  cases.reserve(std::size_t(count));
  for (index_t i = 0; i < count; ++i) cases.push_back(make_phantom_case(options, first_subject + i));
  return cases;
}

}  // namespace modelmix::data
