#pragma once
// Training augmentation of one 2D sample, applied jointly to the image [C, H, W] and any
// number of label maps [H, W] (scribbles, dense labels), as in the reference code
// (data/transforms.py: hflip → RandomRotate → PadOrCropToSize → Resize):
//   1. flips and 90° rotations: behind one gate (p = 0.5), flip rows (p = 0.5), flip columns
//      (p = 0.5), then rotate by k·90°, k uniform in {0, 1, 2, 3} (np.rot90 direction);
//   2. rotation by an angle ~ U(0°, 360°) about the centre ((W−1)/2, (H−1)/2);
//   3. cutout: a 32×32 square whose corner is uniform in [0, H]×[0, W] (clipped);
//   4. scale: a window of ⌊s·H⌋×⌊s·W⌋, s ~ U(0.6, 1.4), at a random position (inside the
//      image when s < 1, around it when s > 1), resized back to H×W.
// Resampling maps every output pixel centre to a source point; labels always take the
// nearest source pixel (round half up). Images take the nearest too by default (exactly the
// reference behaviour, and it keeps image and labels aligned pixel for pixel); bilinear is
// an option. A pixel is *invented* when its nearest source lies outside the input (rotation
// corners, scale padding) or it lies in the cutout: its image value is `invented_image`
// (0 = the volume mean after z-score) and its labels `invented_label`.
//
// Deliberate difference (METHOD.md): invented pixels are 4 = unlabeled by default, so they
// add no supervision; the reference code makes them background (0), see reference().
// Difference of pipeline order: the reference applies the random pad/crop to the full
// slice, we to the S×S centre crop, so a zoomed-out window pads where the reference would
// show more of the slice.
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <span>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/random.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::data {

enum class interpolation { nearest, bilinear };

struct augment_options {
  double flip_probability = 0.5;  // gate of the flip/rot90 group
  double flip_rows_probability = 0.5;
  double flip_columns_probability = 0.5;
  bool rotate90 = true;  // k·90° inside the gate

  double rotate_probability = 1.0;
  double min_angle_degrees = 0, max_angle_degrees = 360;

  double cutout_probability = 1.0;
  index_t cutout_size = 32;

  double scale_probability = 1.0;
  double min_scale = 0.6, max_scale = 1.4;

  interpolation image_interpolation = interpolation::nearest;
  label_t invented_label = unlabeled_label;
  float invented_image = 0.0f;

  // Exactly the reference code's choices (invented pixels are background).
  [[nodiscard]] static augment_options reference() {
    augment_options o;
    o.invented_label = 0;
    return o;
  }
  // Everything off: augment() leaves the sample unchanged.
  [[nodiscard]] static augment_options none() {
    augment_options o;
    o.flip_probability = o.rotate_probability = o.cutout_probability = o.scale_probability = 0;
    return o;
  }
};

using label_maps = std::span<Tensor<label_t>* const>;

namespace augment_detail {

inline void check(const char* op, const auto& image, label_maps labels) {
  MODELMIX_REQUIRE(image.rank() == 3, op, ": image must be [C, H, W], got ", image.shape());
  for (const Tensor<label_t>* l : labels)
    MODELMIX_REQUIRE(!l || l->empty() || (l->rank() == 2 && l->dim(0) == image.dim(1) && l->dim(1) == image.dim(2)), op,
                     ": label map ", l->shape(), " does not match image ", image.shape());
}

// Rebuild image and labels from an index map: out pixel p takes input pixel source[p], or is
// invented when source[p] < 0. `shape` is the output [H', W'].
template <class T>
void gather(Tensor<T>& image, label_maps labels, const std::vector<index_t>& source, index_t out_h, index_t out_w,
            const augment_options& o) {
  const index_t C = image.dim(0), H = image.dim(1), W = image.dim(2), n = out_h * out_w;
  Tensor<T> img(Shape{C, out_h, out_w});
  for (index_t c = 0; c < C; ++c)
    for (index_t p = 0; p < n; ++p) {
      const index_t s = source[std::size_t(p)];
      img[c * n + p] = s < 0 ? T(o.invented_image) : image[c * H * W + s];
    }
  image = std::move(img);
  for (Tensor<label_t>* l : labels) {
    if (!l || l->empty()) continue;
    Tensor<label_t> out(Shape{out_h, out_w});
    for (index_t p = 0; p < n; ++p) {
      const index_t s = source[std::size_t(p)];
      out[p] = s < 0 ? o.invented_label : (*l)[s];
    }
    *l = std::move(out);
  }
}

// Output pixel (x, y) samples the input at (a·x + b·y + c, d·x + e·y + f).
template <class T>
void resample_affine(Tensor<T>& image, label_maps labels, const std::array<double, 6>& m, const augment_options& o) {
  const index_t C = image.dim(0), H = image.dim(1), W = image.dim(2);
  std::vector<index_t> source(std::size_t(H * W));
  std::vector<std::array<double, 2>> point(std::size_t(H * W));
  for (index_t y = 0; y < H; ++y)
    for (index_t x = 0; x < W; ++x) {
      const double sx = m[0] * double(x) + m[1] * double(y) + m[2], sy = m[3] * double(x) + m[4] * double(y) + m[5];
      const auto xi = index_t(std::floor(sx + 0.5)), yi = index_t(std::floor(sy + 0.5));
      source[std::size_t(y * W + x)] = (xi >= 0 && yi >= 0 && xi < W && yi < H) ? yi * W + xi : -1;
      point[std::size_t(y * W + x)] = {sx, sy};
    }
  if (o.image_interpolation == interpolation::nearest) {
    gather(image, labels, source, H, W, o);
    return;
  }
  Tensor<T> img(image.shape());
  for (index_t p = 0; p < H * W; ++p) {
    const auto [sx, sy] = point[std::size_t(p)];
    if (source[std::size_t(p)] < 0) {
      for (index_t c = 0; c < C; ++c) img[c * H * W + p] = T(o.invented_image);
      continue;
    }
    const double fx0 = std::floor(sx), fy0 = std::floor(sy), fx = sx - fx0, fy = sy - fy0;
    const index_t x0 = std::clamp<index_t>(index_t(fx0), 0, W - 1), x1 = std::clamp<index_t>(index_t(fx0) + 1, 0, W - 1);
    const index_t y0 = std::clamp<index_t>(index_t(fy0), 0, H - 1), y1 = std::clamp<index_t>(index_t(fy0) + 1, 0, H - 1);
    for (index_t c = 0; c < C; ++c) {
      const T* in = image.data() + c * H * W;
      const double top = (1 - fx) * double(in[y0 * W + x0]) + fx * double(in[y0 * W + x1]);
      const double bottom = (1 - fx) * double(in[y1 * W + x0]) + fx * double(in[y1 * W + x1]);
      img[c * H * W + p] = T((1 - fy) * top + fy * bottom);
    }
  }
  for (Tensor<label_t>* l : labels) {  // labels stay nearest
    if (!l || l->empty()) continue;
    Tensor<label_t> out(l->shape());
    for (index_t p = 0; p < H * W; ++p) {
      const index_t s = source[std::size_t(p)];
      out[p] = s < 0 ? o.invented_label : (*l)[s];
    }
    *l = std::move(out);
  }
  image = std::move(img);
}

}  // namespace augment_detail

// Reverse the row order (np.flip axis 1 of [C, H, W]).
template <class T>
void flip_rows(Tensor<T>& image, label_maps labels) {
  augment_detail::check("flip_rows", image, labels);
  const index_t H = image.dim(1), W = image.dim(2);
  std::vector<index_t> source(std::size_t(H * W));
  for (index_t y = 0; y < H; ++y)
    for (index_t x = 0; x < W; ++x) source[std::size_t(y * W + x)] = (H - 1 - y) * W + x;
  augment_detail::gather(image, labels, source, H, W, augment_options{});
}

// Reverse the column order (np.flip axis 2 of [C, H, W]).
template <class T>
void flip_columns(Tensor<T>& image, label_maps labels) {
  augment_detail::check("flip_columns", image, labels);
  const index_t H = image.dim(1), W = image.dim(2);
  std::vector<index_t> source(std::size_t(H * W));
  for (index_t y = 0; y < H; ++y)
    for (index_t x = 0; x < W; ++x) source[std::size_t(y * W + x)] = y * W + (W - 1 - x);
  augment_detail::gather(image, labels, source, H, W, augment_options{});
}

// k quarter turns as np.rot90(·, k, axes=(1, 2)): out[i, j] = in[j, W−1−i] for k = 1, so
// [C, H, W] becomes [C, W, H] for odd k.
template <class T>
void rotate90(Tensor<T>& image, label_maps labels, int k) {
  augment_detail::check("rotate90", image, labels);
  k = ((k % 4) + 4) % 4;
  for (int turn = 0; turn < k; ++turn) {
    const index_t H = image.dim(1), W = image.dim(2);
    std::vector<index_t> source(std::size_t(H * W));
    for (index_t i = 0; i < W; ++i)
      for (index_t j = 0; j < H; ++j) source[std::size_t(i * H + j)] = j * W + (W - 1 - i);
    augment_detail::gather(image, labels, source, W, H, augment_options{});
  }
}

// Rotation by `degrees` (counter-clockwise as displayed, y pointing down) about the centre.
template <class T>
void rotate(Tensor<T>& image, label_maps labels, double degrees, const augment_options& o = {}) {
  augment_detail::check("rotate", image, labels);
  const double a = degrees * std::numbers::pi / 180, c = std::cos(a), s = std::sin(a);
  const double cx = double(image.dim(2) - 1) / 2, cy = double(image.dim(1) - 1) / 2;
  // source = R·(p − centre) + centre with R = [[c, −s], [s, c]] (the inverse of the display rotation)
  augment_detail::resample_affine(image, labels, {c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy}, o);
}

// Resize the window [y0, y0 + window_h) × [x0, x0 + window_w) of the input (which may
// extend past the border: padding) back to the input's H×W.
template <class T>
void scale_window(Tensor<T>& image, label_maps labels, index_t y0, index_t x0, index_t window_h, index_t window_w,
                  const augment_options& o = {}) {
  augment_detail::check("scale_window", image, labels);
  MODELMIX_REQUIRE(window_h > 0 && window_w > 0, "scale_window: window must be non-empty, got ", window_h, "×", window_w);
  const double sx = double(window_w) / double(image.dim(2)), sy = double(window_h) / double(image.dim(1));
  // Output pixel centre x + ½ maps to x0 + (x + ½)·sx in window coordinates, i.e. source pixel centre − ½.
  augment_detail::resample_affine(image, labels, {sx, 0, double(x0) + 0.5 * sx - 0.5, 0, sy, double(y0) + 0.5 * sy - 0.5}, o);
}

// Blank rows [y0, y0 + size) × columns [x0, x0 + size), clipped to the image.
template <class T>
void cutout(Tensor<T>& image, label_maps labels, index_t y0, index_t x0, index_t size, const augment_options& o = {}) {
  augment_detail::check("cutout", image, labels);
  const index_t C = image.dim(0), H = image.dim(1), W = image.dim(2);
  const index_t y1 = std::min(H, y0 + size), x1 = std::min(W, x0 + size);
  y0 = std::max<index_t>(0, y0);
  x0 = std::max<index_t>(0, x0);
  for (index_t y = y0; y < y1; ++y)
    for (index_t x = x0; x < x1; ++x) {
      for (index_t c = 0; c < C; ++c) image[(c * H + y) * W + x] = T(o.invented_image);
      for (Tensor<label_t>* l : labels)
        if (l && !l->empty()) (*l)[y * W + x] = o.invented_label;
    }
}

// The whole random chain, drawing everything from `rng`.
template <class T>
void augment(Tensor<T>& image, label_maps labels, const augment_options& o, random_source& rng) {
  augment_detail::check("augment", image, labels);
  MODELMIX_REQUIRE(o.min_scale > 0 && o.min_scale <= o.max_scale, "augment: need 0 < min_scale ≤ max_scale, got ",
                   o.min_scale, ", ", o.max_scale);
  MODELMIX_REQUIRE(o.min_angle_degrees <= o.max_angle_degrees, "augment: min_angle_degrees ", o.min_angle_degrees,
                   " > max_angle_degrees ", o.max_angle_degrees);
  if (rng.bernoulli(o.flip_probability)) {
    if (rng.bernoulli(o.flip_rows_probability)) flip_rows(image, labels);
    if (rng.bernoulli(o.flip_columns_probability)) flip_columns(image, labels);
    if (o.rotate90) rotate90(image, labels, int(rng.below(4)));
  }
  if (rng.bernoulli(o.rotate_probability)) rotate(image, labels, rng.uniform(o.min_angle_degrees, o.max_angle_degrees), o);
  if (rng.bernoulli(o.cutout_probability)) {
    const index_t y0 = rng.between(0, image.dim(1)), x0 = rng.between(0, image.dim(2));
    cutout(image, labels, y0, x0, o.cutout_size, o);
  }
  if (rng.bernoulli(o.scale_probability)) {
    const index_t H = image.dim(1), W = image.dim(2);
    const double s = rng.uniform(o.min_scale, o.max_scale);
    const index_t wh = std::max<index_t>(1, index_t(s * double(H))), ww = std::max<index_t>(1, index_t(s * double(W)));
    // Inside the image when zooming in; the image somewhere inside the window when zooming out.
    const index_t y0 = wh <= H ? rng.between(0, H - wh) : -rng.between(0, wh - H);
    const index_t x0 = ww <= W ? rng.between(0, W - ww) : -rng.between(0, ww - W);
    scale_window(image, labels, y0, x0, wh, ww, o);
  }
}

// A slice sample: its image, scribble and (when present) dense label move together.
inline void augment(slice_sample& sample, const augment_options& o, random_source& rng) {
  Tensor<label_t>* maps[] = {&sample.scribble, &sample.label};
  augment(sample.image, label_maps(maps), o, rng);
}

}  // namespace modelmix::data
