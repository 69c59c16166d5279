// The reference preset (method/reference.hpp): each switch does what docs/method.md says.
// The detached virtual model has its own test in trainer_test.cpp.
#include <catch2/catch.hpp>

#include <set>

#include "modelmix/data/phantom.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/method/reference.hpp"
#include "support/random.hpp"

using namespace modelmix;

namespace {

method::trainer_options tiny(method::trainer_options o) {
  o.network = {.in_channels = 1, .classes = 4, .width = 2, .depth = 2, .encoder_dropout = {0.1, 0.1}};
  o.batch_size = 2;
  return o;
}

// [2, 8, 8] scribbles labelled everywhere (class = row / 2), so a rotation's invented corners
// are the only pixels whose label the fill decides.
Tensor<data::label_t> dense_scribbles() {
  Tensor<data::label_t> s(Shape{2, 8, 8});
  for (index_t n = 0; n < 2; ++n)
    for (index_t y = 0; y < 8; ++y)
      for (index_t x = 0; x < 8; ++x) s(n, y, x) = data::label_t(y / 2);
  return s;
}

std::vector<method::task_setup> phantom_tasks(index_t volumes, index_t scribbled) {
  std::vector<method::task_setup> tasks;
  for (auto modality : {data::phantom_modality::cine, data::phantom_modality::lge}) {
    data::phantom_options o{.modality = modality, .width = 32, .height = 32, .min_slices = 3, .max_slices = 3, .seed = 3};
    method::task_setup setup{data::to_string(modality), {}, {}};
    for (index_t v = 0; v < volumes; ++v) {
      const auto c = data::make_phantom_case(o, v);
      for (auto& s : data::volume_slices(c.image, v < scribbled ? &c.scribble : nullptr, nullptr, {.size = 32}, v))
        setup.slices.push_back(std::move(s));
    }
    tasks.push_back(std::move(setup));
  }
  return tasks;
}

template <class T>
std::vector<T> values(const Tensor<T>& t) {
  return {t.data(), t.data() + t.numel()};
}

}  // namespace

TEST_CASE("reference preset: the original's settings, each a switch of its own", "[method][reference]") {
  const method::trainer_options o = method::reference_trainer_options(), ours;
  CHECK(o.method == method::training_method::modelmix);
  CHECK(o.network.width == 64);
  CHECK(o.network.depth == 5);
  CHECK(o.batch_size == 8);
  CHECK(o.optimizer.weight_decay == 5e-4);
  REQUIRE(std::holds_alternative<optim::constant_lr>(o.schedule));
  CHECK(std::get<optim::constant_lr>(o.schedule).lr == 1e-4);
  CHECK(o.detach_virtual_model);
  CHECK(o.dice.variant == losses::dice_variant::global);
  CHECK(o.invented_label == data::unlabeled_label);
  REQUIRE(o.dice_invented_label.has_value());
  CHECK(*o.dice_invented_label == 0);
  CHECK(o.rotation_per_task);
  CHECK(o.mixup_updates_bn_stats);
  // ... and each differs from modelmix's default, so the preset really changes something.
  CHECK(!ours.detach_virtual_model);
  CHECK(!ours.dice_invented_label.has_value());
  CHECK(!ours.rotation_per_task);
  CHECK(!ours.mixup_updates_bn_stats);
  CHECK(ours.dice.variant != losses::dice_variant::global);

  CHECK(method::reference_task_data("acdc").scribbled_repeat == 80);
  CHECK(method::reference_task_data("acdc").split == data::split_order::seeded_shuffle);
  CHECK(method::reference_task_data("mscmr").scribbled_repeat == 40);
  CHECK(method::reference_task_data("mscmr").split == data::split_order::sorted);
  CHECK(method::reference_task_data("mscmr").augmentation.invented_label == 0);
  CHECK_THROWS_WITH(method::reference_task_data("myops"), Catch::Contains("unknown dataset 'myops'"));
}

TEST_CASE("rotated-in pixels: ignored by pCE, background for Dice when dice_invented_label is set",
          "[method][reference]") {
  method::trainer_options o = tiny({});
  const Tensor<data::label_t> scribble = dense_scribbles();
  const double angle = 45;
  const Tensor<data::label_t> rotated = ops::rotate_planes(scribble, angle, data::label_t(99));  // 99 marks invented
  o.dice_invented_label = 0;
  const method::vicinal_targets<float> t = method::rotated_targets<float>(scribble, angle, o);
  REQUIRE(t.dice.has_value());
  index_t invented = 0;
  for (index_t i = 0; i < rotated.numel(); ++i) {
    const index_t n = i / 64, p = i % 64;
    for (index_t c = 0; c < 4; ++c) {
      const float pce = t.pce[(n * 4 + c) * 64 + p], dice = (*t.dice)[(n * 4 + c) * 64 + p];
      if (rotated[i] == 99) {
        CHECK(pce == 0.0f);                      // no class: pCE ignores the pixel
        CHECK(dice == (c == 0 ? 1.0f : 0.0f));   // background for Dice
      } else {
        CHECK(pce == (c == rotated[i] ? 1.0f : 0.0f));
        CHECK(dice == pce);
      }
    }
    invented += rotated[i] == 99;
  }
  CHECK(invented > 8);  // the test saw corners
  o.dice_invented_label.reset();
  CHECK(!method::rotated_targets<float>(scribble, angle, o).dice.has_value());
}

TEST_CASE("the virtual model's supervised term is pCE on the pCE target plus Dice on the Dice target",
          "[method][reference]") {
  method::trainer_options o = tiny({});
  o.dice = losses::dice_options::original();
  o.dice_invented_label = 0;
  o.weights = {.supervised = 0, .mixup = 0, .mix_consistency = 0, .modelmix = 1, .invariance = 0};
  models::UNet<float> host(o.network), partner(o.network);
  const Tensor<float> image = test::random_tensor<float>(Shape{2, 1, 8, 8}, 5);
  const Tensor<data::label_t> scribble = dense_scribbles();
  // λ = 1: the virtual model is the host itself, so p_mm can be recomputed by hand.
  const method::step_draws draws{.betas = {0.5, 0.5}, .lambda = 1, .angle = 45, .mixed_layer = "encoder.block1.conv1",
                                 .dropout_seed = 256};
  Tape<float> tape;
  method::task_losses logged;
  (void)method::task_objective(tape, host, partner, image, scribble, draws, o, logged);

  Tape<float> check;
  const layers::forward_context<float> ctx{.training = true, .seed = draws.dropout_seed + 2, .update_running_stats = false};
  const Var<float> p_mm = host.forward(check, check.constant(ops::rotate_planes(image, draws.angle, 0.0f)), ctx);
  const auto targets = method::rotated_targets<float>(scribble, draws.angle, o);
  const double pce = losses::pce(p_mm, check.constant(targets.pce), o.pce_eps).value()[0];
  const double dice = losses::dice(p_mm, check.constant(*targets.dice), o.dice).value()[0];
  CHECK(logged.modelmix == Approx(pce + dice).epsilon(1e-6));
  // The two targets differ, so using one for both terms would not pass the check above.
  const double dice_on_pce_target = losses::dice(p_mm, check.constant(targets.pce), o.dice).value()[0];
  CHECK(std::abs(dice - dice_on_pce_target) > 1e-3);
}

TEST_CASE("rotation_per_task: every task draws its own angle; off, one angle for all", "[method][reference]") {
  for (bool per_task : {false, true}) {
    CAPTURE(per_task);
    method::trainer_options o;
    o.network = {.width = 2, .depth = 2};
    o.batch_size = 2;
    o.rotation_per_task = per_task;
    method::Trainer trainer(phantom_tasks(2, 1), o);
    std::set<double> first_task_angles;
    for (int k = 0; k < 3; ++k) {
      const method::step_report r = trainer.step();
      REQUIRE(r.angles.size() == 2);
      CHECK((r.angles[0] != r.angles[1]) == per_task);
      for (double a : r.angles) CHECK((a >= 0 && a < 360));
      first_task_angles.insert(r.angles[0]);
    }
    CHECK(first_task_angles.size() == 3);  // a new draw every step either way
  }
}

TEST_CASE("scribbled_repeat per task overrides the trainer's; sorted split keeps the first volumes",
          "[method][reference]") {
  std::vector<method::task_setup> tasks = phantom_tasks(3, 1);
  tasks[0].scribbled_repeat = 80;  // the original's ACDC
  tasks[1].scribbled_repeat = 0;   // falls back to trainer_options
  method::trainer_options o;
  o.network = {.width = 2, .depth = 2};
  o.batch_size = 2;
  o.scribbled_repeat = 7;
  method::Trainer trainer(std::move(tasks), o);
  CHECK(trainer.scribbled_repeat(0) == 80);
  CHECK(trainer.scribbled_repeat(1) == 7);

  const auto sorted = data::make_few_scribble_split(10, 3, 42, data::split_order::sorted);
  CHECK(sorted.scribbled == std::vector<index_t>{0, 1, 2});
  CHECK(sorted.unlabeled == std::vector<index_t>{3, 4, 5, 6, 7, 8, 9});
  CHECK(data::make_few_scribble_split(10, 3, 42).scribbled != sorted.scribbled);  // the seeded default shuffles
  CHECK(data::parse_split_order("sorted") == data::split_order::sorted);
  CHECK_THROWS_WITH(data::parse_split_order("first"), Catch::Contains("unknown split order 'first'"));
}

TEST_CASE("mixup_updates_bn_stats: the mixed-up pass moves the running statistics only when set",
          "[method][reference]") {
  const Tensor<float> image = test::random_tensor<float>(Shape{2, 1, 8, 8}, 9);
  const Tensor<data::label_t> scribble = dense_scribbles();
  const method::step_draws draws{.betas = {0.3, 0.8}, .lambda = 1, .angle = 0, .mixed_layer = "", .dropout_seed = 0};
  const auto running_stats = [&](bool mixup_updates) {
    method::trainer_options o = tiny({});
    o.method = method::training_method::mixup;
    o.mixup_updates_bn_stats = mixup_updates;
    models::UNet<float> net(o.network);
    Tape<float> tape;
    method::task_losses logged;
    (void)method::task_objective(tape, net, net, image, scribble, draws, o, logged);
    std::vector<float> out;
    layers::for_each_buffer(net, [&](const std::string&, Tensor<float>& b) {
      const auto v = values(b);
      out.insert(out.end(), v.begin(), v.end());
    });
    return out;
  };
  // Only the clean batch: the same as one training forward of the clean batch alone.
  method::trainer_options o = tiny({});
  models::UNet<float> clean(o.network);
  Tape<float> tape;
  (void)clean.forward(tape, tape.constant(image), {.training = true, .seed = 0, .update_running_stats = true});
  std::vector<float> expected;
  layers::for_each_buffer(clean, [&](const std::string&, Tensor<float>& b) {
    const auto v = values(b);
    expected.insert(expected.end(), v.begin(), v.end());
  });
  CHECK(running_stats(false) == expected);
  CHECK(running_stats(true) != expected);
}
