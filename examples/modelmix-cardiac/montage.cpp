// PNG montages (see montage.hpp). stb_image_write is compiled into this file with static
// linkage, so the program needs only the header.
#include "montage.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "files.hpp"
#include "modelmix/core/error.hpp"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace modelmix_cardiac {

namespace {

using modelmix::index_t;
using modelmix::data::label_t;
using modelmix::data::LabelVolume;

constexpr int gap = 2;  // dark pixels between tiles
constexpr std::array<std::uint8_t, 3> class_colour[] = {{255, 220, 0}, {230, 40, 40}, {40, 200, 70}, {50, 110, 255}};

std::array<float, 2> window(const modelmix::data::ImageVolume& image) {
  std::vector<float> v(image.voxels.storage().begin(), image.voxels.storage().end());
  const auto at = [&](double q) {
    const auto k = static_cast<std::size_t>(q * double(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  };
  const float lo = at(0.01), hi = at(0.99);
  return {lo, hi > lo ? hi : lo + 1.0f};
}

bool has_foreground(const LabelVolume& v, index_t z, label_t unlabeled) {
  for (label_t x : v.slice(z))
    if (x != 0 && x != unlabeled) return true;
  return false;
}

}  // namespace

std::vector<index_t> pick_slices(const MontageInputs& in, int count) {
  const index_t Z = in.image->nz();
  std::vector<index_t> candidates;
  for (const LabelVolume* v : {in.label, in.prediction, in.scribble}) {
    if (v == nullptr) continue;
    for (index_t z = 0; z < Z; ++z)
      if (has_foreground(*v, z, 4)) candidates.push_back(z);
    if (!candidates.empty()) break;
  }
  if (candidates.empty())
    for (index_t z = 0; z < Z; ++z) candidates.push_back(z);
  const auto n = static_cast<index_t>(candidates.size());
  const index_t k = std::min<index_t>(count, n);
  std::vector<index_t> out;
  for (index_t i = 0; i < k; ++i)
    out.push_back(candidates[static_cast<std::size_t>(k == 1 ? n / 2 : i * (n - 1) / (k - 1))]);
  return out;
}

RgbImage render_montage(const MontageInputs& in, const MontageOptions& options) {
  MODELMIX_REQUIRE(in.image != nullptr, "render_montage: no image");
  const auto& image = *in.image;
  for (const LabelVolume* v : {in.scribble, in.prediction, in.label})
    MODELMIX_REQUIRE(v == nullptr || v->voxels.shape() == image.voxels.shape(), "render_montage: case ", image.name,
                     ": overlay shape ", v->voxels.shape(), " differs from the image's ", image.voxels.shape());
  const auto slices = pick_slices(in, std::max(1, options.slices));
  std::vector<const LabelVolume*> rows = {nullptr};  // the plain image first
  for (const LabelVolume* v : {in.scribble, in.prediction, in.label})
    if (v != nullptr) rows.push_back(v);

  const int W = static_cast<int>(image.nx()), H = static_cast<int>(image.ny());
  RgbImage out;
  out.width = static_cast<int>(slices.size()) * (W + gap) - gap;
  out.height = static_cast<int>(rows.size()) * (H + gap) - gap;
  out.pixels.assign(static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.height) * 3, 24);
  const auto [lo, hi] = window(image);

  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < slices.size(); ++c) {
      const index_t z = slices[c];
      const auto grey = image.slice(z);
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const auto i = static_cast<std::size_t>(y * W + x);
          const float g = std::clamp((grey[i] - lo) / (hi - lo), 0.0f, 1.0f) * 255.0f;
          std::array<float, 3> rgb{g, g, g};
          if (rows[r] != nullptr) {
            const label_t v = rows[r]->slice(z)[i];
            const bool drawn = rows[r] == in.scribble ? v != options.unlabeled && v < 4 : v != 0 && v < 4;
            if (drawn)
              for (std::size_t k = 0; k < 3; ++k) rgb[k] = 0.5f * rgb[k] + 0.5f * class_colour[v][k];
          }
          const int row = static_cast<int>(r) * (H + gap) + y, column = static_cast<int>(c) * (W + gap) + x;
          const auto px = static_cast<std::size_t>(row * out.width + column) * 3;
          for (std::size_t k = 0; k < 3; ++k) out.pixels[px + k] = static_cast<std::uint8_t>(std::lround(rgb[k]));
        }
    }
  return out;
}

// Encoded in memory, then written with checked writes: stbi_write_png ignores fwrite errors,
// so a full disk would leave a truncated PNG and report success.
void write_png(const std::filesystem::path& path, const RgbImage& image) {
  MODELMIX_REQUIRE(image.width > 0 && image.height > 0, "write_png: ", path.string(), ": empty image");
  std::string encoded;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  const int ok = stbi_write_png_to_func(append, &encoded, image.width, image.height, 3, image.pixels.data(), image.width * 3);
  MODELMIX_REQUIRE(ok != 0 && !encoded.empty(), "write_png: ", path.string(), ": PNG encoding failed");
  write_text_atomically(path, encoded);
}

}  // namespace modelmix_cardiac
