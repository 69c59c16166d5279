// montage: one PNG per case showing a few slices with scribble, prediction and ground-truth
// overlays (see montage.hpp).
//
//   modelmix-cardiac montage --images DIR [--scribbles DIR] [--pred DIR] [--labels DIR]
//                            --out DIR [--slices N] [--labels-set acdc|mscmr]
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "commands.hpp"
#include "files.hpp"
#include "montage.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/data/label_set.hpp"
#include "modelmix/io/nifti.hpp"

namespace modelmix_cardiac {

namespace {

namespace data = modelmix::data;

struct MontageCommandOptions {
  fs::path images, scribbles, pred, labels, out;
  int slices = 4;
  std::string label_set = "acdc";
};

// The overlay volume of `name` from `folder` (empty path: none), checked against the label set.
std::optional<data::LabelVolume> load_overlay(const std::map<std::string, fs::path>& files, const fs::path& folder,
                                              const std::string& name, const data::LabelSet& set,
                                              data::LabelRole role) {
  if (folder.empty()) return std::nullopt;
  const auto it = files.find(name);
  MODELMIX_REQUIRE(it != files.end(), "montage: ", folder.string(), " has no volume for case ", name);
  return set.to_labels(modelmix::io::read_volume<float>(it->second), role, it->second.string());
}

void run_montage(const MontageCommandOptions& options) {
  const data::LabelSet set = data::label_set_by_name(options.label_set);
  MODELMIX_REQUIRE(options.slices >= 1 && options.slices <= 64, "montage: --slices must be 1..64, got ",
                   options.slices);
  for (const auto& [folder, option] : {std::pair{&options.images, "--images"}, {&options.scribbles, "--scribbles"},
                                        {&options.pred, "--pred"}, {&options.labels, "--labels"}})
    if (!folder->empty()) require_regular_volumes(*folder, option);
  const auto images = data::list_volumes(options.images);
  MODELMIX_REQUIRE(!images.empty(), "montage: ", options.images.string(), " holds no .nii or .nii.gz file");
  auto listing = [](const fs::path& folder) {
    return folder.empty() ? std::map<std::string, fs::path>{} : data::list_volumes(folder);
  };
  const auto scribbles = listing(options.scribbles), preds = listing(options.pred), labels = listing(options.labels);
  ensure_folder(options.out);
  for (const auto& [name, path] : images) {
    const auto image = modelmix::io::read_volume<float>(path);
    const auto scribble = load_overlay(scribbles, options.scribbles, name, set, data::LabelRole::scribble);
    const auto pred = load_overlay(preds, options.pred, name, set, data::LabelRole::dense);
    const auto label = load_overlay(labels, options.labels, name, set, data::LabelRole::dense);
    for (const auto* v : {scribble ? &*scribble : nullptr, pred ? &*pred : nullptr, label ? &*label : nullptr})
      MODELMIX_REQUIRE(v == nullptr || v->voxels.shape() == image.voxels.shape(), "montage: case ", name,
                       ": an overlay has shape ", v->voxels.shape(), " but the image ", path.string(), " has ",
                       image.voxels.shape());
    MontageInputs in{&image, scribble ? &*scribble : nullptr, pred ? &*pred : nullptr, label ? &*label : nullptr};
    const fs::path png = options.out / (name + ".png");
    write_png(png, render_montage(in, MontageOptions{options.slices, set.unlabeled}));
    std::cout << "wrote " << png.string() << "\n";
  }
}

}  // namespace

void add_montage_command(CLI::App& app) {
  auto options = std::make_shared<MontageCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("montage", "Write a PNG per case: a few slices with scribble, prediction and label overlays");
  cmd->add_option("--images", options->images, "folder of image volumes, <case>.nii.gz")->required();
  cmd->add_option("--scribbles", options->scribbles, "folder of scribble volumes (optional)");
  cmd->add_option("--pred", options->pred, "folder of predicted label volumes (optional)");
  cmd->add_option("--labels", options->labels, "folder of ground-truth label volumes (optional)");
  cmd->add_option("--out", options->out, "folder for <case>.png")->required();
  cmd->add_option("--slices", options->slices, "slices per montage")->capture_default_str();
  cmd->add_option("--labels-set", options->label_set, "label convention")
      ->check(CLI::IsMember({"acdc", "mscmr"}))
      ->capture_default_str();
  cmd->callback([options] { run_montage(*options); });
}

}  // namespace modelmix_cardiac
