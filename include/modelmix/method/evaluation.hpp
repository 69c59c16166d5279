#pragma once
// Evaluating a segmentation network on volumes with dense labels, the way the field reports
// it: per volume, in 3D, for LV (3), Myo (2) and RV (1): Dice, HD95 and ASSD in mm
// (method/metrics.hpp, with its empty-mask rule), then mean ± std over volumes.
#include <array>
#include <string>
#include <vector>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/data/volume.hpp"
#include "modelmix/layers/forward_context.hpp"
#include "modelmix/layers/to_device.hpp"
#include "modelmix/method/metrics.hpp"
#include "modelmix/method/predict.hpp"

namespace modelmix::method {

// The reported structures, in report order, with their label ids (ACDC / MS-CMR convention).
struct structure {
  const char* name;
  data::label_t label;
};
inline constexpr std::array<structure, 3> cardiac_structures{{{"LV", 3}, {"Myo", 2}, {"RV", 1}}};

struct case_result {
  std::string name;
  std::array<StructureScore, cardiac_structures.size()> scores;  // cardiac_structures order

  [[nodiscard]] double mean_dice() const {
    double sum = 0;
    for (const auto& s : scores) sum += s.dice;
    return sum / double(scores.size());
  }
};

struct evaluation_summary {
  std::array<Summary, cardiac_structures.size()> dice, hd95, assd;
  Summary mean_dice;  // of the per-case means over the three structures
};

// Argmax segmentation of a batch [B, 1, S, S] (host) by a network in evaluation mode (no tape
// kept), on the device the network is on: the batch goes up, the scores come back for the argmax.
template <class Net>
[[nodiscard]] Tensor<data::label_t> segment_batch(Net& net, const Tensor<typename Net::value_type>& batch) {
  using T = typename Net::value_type;
  no_grad_guard no_grad;
  Tape<T> tape;
  const layers::forward_context<T> eval{.training = false};
  const device where = layers::device_of(net);
  if (where == device::cpu) return argmax_channels(net.forward(tape, tape.constant_ref(batch), eval).value());
  const Tensor<T> scores = net.forward(tape, tape.constant(batch.to(where)), eval).value();
  return argmax_channels(scores.to_host());
}

template <class Net>
[[nodiscard]] case_result evaluate_case(Net& net, const data::ImageVolume& image, const data::LabelVolume& label,
                                        const PredictOptions& predict) {
  MODELMIX_REQUIRE(image.voxels.shape() == label.voxels.shape(), "evaluate: image ", image.name, " has shape ",
                   image.voxels.shape(), " but its label has ", label.voxels.shape());
  const data::LabelVolume prediction = predict_volume(
      image, [&net](const Tensor<float>& batch) { return segment_batch(net, batch); }, predict);
  case_result result{image.name, {}};
  for (std::size_t k = 0; k < cardiac_structures.size(); ++k)
    result.scores[k] = score_structure(prediction, label, cardiac_structures[k].label, label.spacing);
  return result;
}

[[nodiscard]] inline evaluation_summary summarize_cases(std::span<const case_result> cases) {
  evaluation_summary out;
  std::vector<double> means;
  for (const auto& c : cases) means.push_back(c.mean_dice());
  out.mean_dice = summarize(std::span<const double>(means));
  for (std::size_t k = 0; k < cardiac_structures.size(); ++k) {
    std::vector<std::optional<double>> dice, hd95, assd;
    for (const auto& c : cases) {
      dice.emplace_back(c.scores[k].dice);
      hd95.push_back(c.scores[k].hd95);
      assd.push_back(c.scores[k].assd);
    }
    out.dice[k] = summarize(std::span<const std::optional<double>>(dice));
    out.hd95[k] = summarize(std::span<const std::optional<double>>(hd95));
    out.assd[k] = summarize(std::span<const std::optional<double>>(assd));
  }
  return out;
}

}  // namespace modelmix::method
