// The trainer learns. The reproducibility and resume tests compare runs with each other, which a
// step() that changed nothing would pass; here a few dozen steps on the synthetic phantom must
// lower the supervised loss and raise the held-out 3D Dice of every method by a stated margin.
#include <catch2/catch.hpp>

#include "modelmix/data/phantom.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/data/split.hpp"
#include "modelmix/method/evaluation.hpp"
#include "modelmix/method/trainer.hpp"

using namespace modelmix;

namespace {

constexpr index_t size = 32;

struct phantom_task {
  method::task_setup training;
  std::vector<data::phantom_case> held_out;
};

// Four training volumes (two scribbled) and two held-out volumes with dense labels.
phantom_task make_task(data::phantom_modality modality) {
  const data::phantom_options p{.modality = modality, .width = size, .height = size, .seed = 5};
  phantom_task task{{data::to_string(modality), {}, {}}, {}};
  for (index_t v = 0; v < 4; ++v) {
    const auto c = data::make_phantom_case(p, v);
    for (auto& s : data::volume_slices(c.image, v < 2 ? &c.scribble : nullptr, nullptr, {.size = size}, v))
      task.training.slices.push_back(std::move(s));
  }
  for (index_t v = 0; v < 2; ++v) task.held_out.push_back(data::make_phantom_case(p, 1000 + v));
  return task;
}

// Mean over tasks and held-out volumes of the per-volume mean Dice (LV, Myo, RV).
double held_out_dice(method::Trainer& trainer, const std::vector<phantom_task>& tasks) {
  double sum = 0;
  int n = 0;
  for (std::size_t t = 0; t < tasks.size(); ++t)
    for (const auto& c : tasks[t].held_out) {
      sum += method::evaluate_case(trainer.network(t), c.image, c.label, {.size = size}).mean_dice();
      ++n;
    }
  return sum / n;
}

}  // namespace

TEST_CASE("every method learns the phantom: supervised loss down, held-out Dice up", "[method][learning]") {
  const std::vector<phantom_task> tasks{make_task(data::phantom_modality::cine), make_task(data::phantom_modality::lge)};
  constexpr int steps = 100, window = 10;
  for (auto m : {method::training_method::pce, method::training_method::mixup, method::training_method::modelmix}) {
    method::trainer_options o;
    o.method = m;
    o.network = {.in_channels = 1, .classes = 4, .width = 8, .depth = 3};
    o.batch_size = 4;
    o.schedule = optim::constant_lr{3e-3};
    std::vector<method::task_setup> setups;
    for (const auto& t : tasks) setups.push_back(t.training);
    method::Trainer trainer(std::move(setups), o);

    const double dice_before = held_out_dice(trainer, tasks);
    double loss_first = 0, loss_last = 0;
    for (int i = 0; i < steps; ++i) {
      const method::step_report r = trainer.step();
      double supervised = 0;
      for (const auto& t : r.tasks) supervised += t.supervised / double(r.tasks.size());
      if (i < window) loss_first += supervised / window;
      if (i >= steps - window) loss_last += supervised / window;
    }
    const double dice_after = held_out_dice(trainer, tasks);
    INFO(method::to_string(m) << ": supervised loss " << loss_first << " -> " << loss_last << ", held-out Dice "
                              << dice_before << " -> " << dice_after);
    // Measured (2 threads, 2026-11-30): loss ×0.49 / ×0.59 / ×0.58 and Dice +0.30 / +0.25 / +0.29
    // for pce / mixup / modelmix; the margins leave room for other thread counts and machines.
    CHECK(loss_last < 0.75 * loss_first);
    CHECK(dice_after > dice_before + 0.15);
  }
}
