#pragma once
// PNG montage of one case: columns are a few slices, rows are the image alone and then the
// image with each available overlay (scribble, prediction, ground truth).
//
//   slice choice: `slices` evenly spaced among the slices where the ground truth (else the
//                 prediction, else the scribble) has a foreground class; all slices if none
//   grey values:  the volume's 1st..99th intensity percentiles mapped to 0..255
//   overlays:     RV red, Myo green, LV blue (α = 0.5); scribble background yellow; the
//                 scribble's unlabeled value and label background are not drawn
// Tiles keep the voxel grid (x to the right, y down), one pixel per voxel.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "modelmix/data/volume.hpp"

namespace modelmix_cardiac {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row-major RGB
};

struct MontageInputs {
  const modelmix::data::ImageVolume* image = nullptr;  // required
  const modelmix::data::LabelVolume* scribble = nullptr;
  const modelmix::data::LabelVolume* prediction = nullptr;
  const modelmix::data::LabelVolume* label = nullptr;
};

struct MontageOptions {
  int slices = 4;
  modelmix::data::label_t unlabeled = 4;
};

[[nodiscard]] std::vector<modelmix::index_t> pick_slices(const MontageInputs& in, int count);
[[nodiscard]] RgbImage render_montage(const MontageInputs& in, const MontageOptions& options = {});
// Atomic: temporary file + rename.
void write_png(const std::filesystem::path& path, const RgbImage& image);

}  // namespace modelmix_cardiac
