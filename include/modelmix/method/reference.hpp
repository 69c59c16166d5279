#pragma once
// The authors' PyTorch code, as options: everything in which modelmix's defaults depart from
// it, set back (docs/method.md, "Decisions" and "The reference preset"). Each switch is also
// an option of its own, so a comparison can move one at a time.
//
//   trainer_options o = method::reference_trainer_options();        // ModelMix as published
//   task_setup acdc{"acdc", slices, ...}; apply(reference_task_data("acdc"), acdc);
//
// What the preset cannot reproduce (data/augment.hpp): the original augments the full slice
// and then crops; modelmix crops to S×S first, so a zoomed-out window pads with the volume mean
// where the original shows more of the slice.
#include <string>

#include "modelmix/data/augment.hpp"
#include "modelmix/data/split.hpp"
#include "modelmix/method/trainer.hpp"

namespace modelmix::method {

[[nodiscard]] inline trainer_options reference_trainer_options() {
  trainer_options o;
  o.method = training_method::modelmix;
  o.network.width = 64;  // 5 levels, the original dropout rates (unet_options defaults)
  o.network.depth = 5;
  o.batch_size = 8;
  o.optimizer.weight_decay = 5e-4;  // Adam with L2 (added to the gradient), as torch.optim.Adam
  o.schedule = optim::constant_lr{1e-4};
  o.detach_virtual_model = true;         // a deep copy: only the head learns from its terms
  o.dice = losses::dice_options::original();
  o.invented_label = data::unlabeled_label;  // rotated-in pixels: ignored by pCE ...
  o.dice_invented_label = 0;                 // ... and background for Dice
  o.rotation_per_task = true;
  o.mixup_updates_bn_stats = true;
  o.shared_initialisation = true;
  o.bn_stats = layers::bn_stats_policy::host;
  o.mixable = mixable_set::conv_and_bn;
  o.lambda_alpha = o.mixup_alpha = 0.5;
  o.seed = 42;
  return o;
}

// What the original's loader does with one dataset's training split.
struct reference_data_choices {
  index_t scribbled_repeat = 80;                      // copies of each scribbled volume per epoch
  data::split_order split = data::split_order::seeded_shuffle;  // which volumes keep scribbles
  data::augment_options augmentation = data::augment_options::reference();  // invented pixels: background
  index_t crop_size = 256;
};

// "acdc": scribbled volumes ×80, a seeded shuffle picks them. "mscmr": ×40, the first N in
// sorted order. Anything else: an error naming the known datasets.
[[nodiscard]] inline reference_data_choices reference_task_data(const std::string& dataset) {
  if (dataset == "acdc") return {};
  if (dataset == "mscmr") return {.scribbled_repeat = 40, .split = data::split_order::sorted};
  throw error(cat("reference_task_data: unknown dataset '", dataset, "' (the original's loaders: acdc, mscmr)"));
}

// What a task_setup holds of those choices (repeat, augmentation); the split and the crop size
// act earlier, where the caller picks the scribbled volumes and cuts the slices.
inline void apply(const reference_data_choices& d, task_setup& task) {
  task.scribbled_repeat = d.scribbled_repeat;
  task.augmentation = d.augmentation;
}

}  // namespace modelmix::method
