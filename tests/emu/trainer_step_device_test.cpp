// The whole ModelMix training step on the emulated device against the same step on the CPU:
// the objective of two tasks' U-Nets (every op of the step: fused mixed conv, batch norm and
// its mixed policies, ReLU, dropout, pooling, upsampling, concat, softmax, rotation, mixup,
// pCE, Dice, cosine terms), its gradients into both parents of the virtual model, then
// method::Trainer steps (Adam, checkpoints) with the networks on the device.
//
// Sizes are the smallest that exercise everything (8×8 slices, width 2, depth 2, batch 2), so
// the cases stay at seconds on the emulator (each CUDA thread of a shared-memory kernel is a
// fiber there).
//
// Tolerance: the device sums in other orders than the CPU (the conv tiles vs the CPU's GEMM,
// one-block reductions); in float a loss or gradient of this tiny network agrees to ~1e-6,
// and 1e-4 relative to max(1, |value|) leaves room for the deeper chains of the backward.
#include <catch2/catch.hpp>

#include <filesystem>
#include <variant>
#include <string>
#include <vector>

#include "modelmix/data/phantom.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/layers/to_device.hpp"
#include "modelmix/method/trainer.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;

namespace {

constexpr double step_tolerance = 1e-4;

models::unet_options tiny_unet(std::uint64_t seed) {
  return {.in_channels = 1, .classes = 4, .width = 2, .depth = 2, .encoder_dropout = {0.1, 0.1}, .seed = seed};
}

// [2, 8, 8] scribbles with every class and unlabeled pixels between them.
Tensor<data::label_t> scribbles() {
  Tensor<data::label_t> s(Shape{2, 8, 8}, data::unlabeled_label);
  for (index_t n = 0; n < 2; ++n)
    for (index_t i = 1; i < 7; ++i) {
      s(n, 1, i) = 0;
      s(n, 3, i) = 1;
      s(n, 5, i) = data::label_t(2 + (i + n) % 2);
      s(n, i, 7) = 3;
    }
  return s;
}

double relative_error(double got, double want) { return std::abs(got - want) / std::max(1.0, std::abs(want)); }

std::vector<method::task_setup> phantom_tasks() {
  std::vector<method::task_setup> tasks;
  for (auto modality : {data::phantom_modality::cine, data::phantom_modality::lge}) {
    data::phantom_options o{.modality = modality, .width = 16, .height = 16, .min_slices = 2, .max_slices = 2, .seed = 3};
    method::task_setup setup{data::to_string(modality), {}, {}};
    for (index_t v = 0; v < 2; ++v) {
      const auto c = data::make_phantom_case(o, v);
      for (auto& s : data::volume_slices(c.image, v == 0 ? &c.scribble : nullptr, nullptr, {.size = 8}, v))
        setup.slices.push_back(std::move(s));
    }
    tasks.push_back(std::move(setup));
  }
  return tasks;
}

method::trainer_options small_run(device where) {
  method::trainer_options o;
  o.network = {.width = 2, .depth = 2};
  o.batch_size = 2;
  o.seed = 123;
  o.where = where;
  return o;
}

void check_same_report(const method::step_report& got, const method::step_report& want) {
  CHECK(got.mixed_layer == want.mixed_layer);
  CHECK(relative_error(got.total, want.total) <= step_tolerance);
  REQUIRE(got.tasks.size() == want.tasks.size());
  for (std::size_t t = 0; t < got.tasks.size(); ++t) {
    CAPTURE(t);
    CHECK(relative_error(got.tasks[t].supervised, want.tasks[t].supervised) <= step_tolerance);
    CHECK(relative_error(got.tasks[t].mixup, want.tasks[t].mixup) <= step_tolerance);
    CHECK(relative_error(got.tasks[t].mix_consistency, want.tasks[t].mix_consistency) <= step_tolerance);
    CHECK(relative_error(got.tasks[t].modelmix, want.tasks[t].modelmix) <= step_tolerance);
    CHECK(relative_error(got.tasks[t].invariance, want.tasks[t].invariance) <= step_tolerance);
  }
}

}  // namespace

TEST_CASE("a ModelMix step's objective on the emulated device matches the CPU, gradients into both parents",
          "[emu][step]") {
  // A mixed conv (the fused kernels with two parents), then a mixed BN under the `batch`
  // statistics policy (the mixed layer's own batch statistics).
  const auto [mixed, policy] = GENERATE(table<std::string, layers::bn_stats_policy>(
      {{"encoder.block1.conv1", layers::bn_stats_policy::host}, {"encoder.block2.bn2", layers::bn_stats_policy::batch}}));
  INFO("mixed layer " << mixed << ", BN statistics policy " << int(policy));
  method::trainer_options o;
  o.method = method::training_method::modelmix;
  o.network = tiny_unet(1);
  o.bn_stats = policy;
  const method::step_draws draws{
      .betas = {0.3, 0.8}, .lambda = 0.35, .angle = 37, .mixed_layer = mixed, .dropout_seed = 5};
  const Tensor<float> image = test::random_tensor<float>(Shape{2, 1, 8, 8}, 11);

  struct result {
    method::task_losses logged;
    std::vector<Tensor<float>> grads, buffers;
  };
  const auto run = [&](device where) {
    models::UNet<float> host(tiny_unet(1)), partner(tiny_unet(7));
    layers::to_device(host, where);
    layers::to_device(partner, where);
    result r;
    Tape<float> tape;
    tape.backward(method::task_objective(tape, host, partner, image, scribbles(), draws, o, r.logged));
    for (auto* net : {&host, &partner}) {
      for (auto& [name, p] : layers::named_parameters(*net)) r.grads.push_back(p->grad);
      layers::for_each_buffer(*net, [&](const std::string&, Tensor<float>& b) { r.buffers.push_back(b); });
    }
    return r;
  };
  const result cpu = run(device::cpu), dev = run(device::cuda);
  CHECK(relative_error(dev.logged.supervised, cpu.logged.supervised) <= step_tolerance);
  CHECK(relative_error(dev.logged.mixup, cpu.logged.mixup) <= step_tolerance);
  CHECK(relative_error(dev.logged.mix_consistency, cpu.logged.mix_consistency) <= step_tolerance);
  CHECK(relative_error(dev.logged.modelmix, cpu.logged.modelmix) <= step_tolerance);
  CHECK(relative_error(dev.logged.invariance, cpu.logged.invariance) <= step_tolerance);
  CHECK(relative_error(dev.logged.total, cpu.logged.total) <= step_tolerance);
  REQUIRE(dev.grads.size() == cpu.grads.size());
  const std::size_t per_net = dev.grads.size() / 2;
  double partner_norm = 0;
  for (std::size_t i = 0; i < dev.grads.size(); ++i) {
    INFO((i < per_net ? "host" : "partner") << " parameter " << i % per_net);
    CHECK(dev.grads[i].on_device());
    CHECK(test::device_error(dev.grads[i], cpu.grads[i]) <= step_tolerance);
    if (i >= per_net)
      for (const float g : cpu.grads[i].span()) partner_norm += double(g) * g;
  }
  CHECK(partner_norm > 0);  // the partner really learned from the virtual model
  REQUIRE(dev.buffers.size() == cpu.buffers.size());
  for (std::size_t i = 0; i < dev.buffers.size(); ++i) {
    INFO("BN buffer " << i);
    CHECK(test::device_error(dev.buffers[i], cpu.buffers[i]) <= step_tolerance);
  }
}

TEST_CASE("a ModelMix Trainer step with the networks on the emulated device matches the CPU trainer", "[emu][step]") {
  method::Trainer cpu(phantom_tasks(), small_run(device::cpu)), dev(phantom_tasks(), small_run(device::cuda));
  CHECK(layers::device_of(dev.network(0)) == device::cuda);
  // Both tasks' objectives, the backward through both tasks' networks, the gradient check and
  // Adam on the device; the next step's losses then come from the updated weights (checked by
  // the checkpoint case below).
  check_same_report(dev.step(), cpu.step());
  for (std::size_t t = 0; t < 2; ++t)
    for (auto& [name, p] : layers::named_parameters(dev.network(t))) {
      INFO("task " << t << " " << name);
      CHECK(p->value.on_device());
    }
}

namespace {
// Every parameter and BN buffer of both tasks, bit for bit (a checkpoint holds host copies).
void check_same_weights(method::Trainer& got, method::Trainer& want) {
  for (std::size_t t = 0; t < 2; ++t) {
    const auto a = layers::named_parameters(got.network(t)), b = layers::named_parameters(want.network(t));
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO("task " << t << " " << a[i].first);
      CHECK(a[i].second->value.to_host().storage() == b[i].second->value.to_host().storage());
    }
    std::vector<Tensor<float>> ba, bb;
    layers::for_each_buffer(got.network(t), [&](const std::string&, Tensor<float>& x) { ba.push_back(x.to_host()); });
    layers::for_each_buffer(want.network(t), [&](const std::string&, Tensor<float>& x) { bb.push_back(x.to_host()); });
    REQUIRE(ba.size() == bb.size());
    for (std::size_t i = 0; i < ba.size(); ++i) CHECK(ba[i].storage() == bb[i].storage());
  }
}
}  // namespace

TEST_CASE("a checkpoint written on the device resumes on the CPU, and the other way round", "[emu][step]") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "modelmix_emu_step_checkpoint";
  std::filesystem::create_directories(dir);
  // A step on the device, saved, loaded by a CPU trainer: the same weights and statistics.
  method::Trainer dev(phantom_tasks(), small_run(device::cuda));
  (void)dev.step();
  dev.save(dir / "device.safetensors");
  method::Trainer cpu(phantom_tasks(), small_run(device::cpu));
  cpu.load(dir / "device.safetensors");
  CHECK(cpu.steps_done() == 1);
  CHECK(layers::device_of(cpu.network(0)) == device::cpu);
  check_same_weights(cpu, dev);
  // The CPU trainer goes on (Adam's moments came along: a fresh optimizer would step
  // differently), saves, and a device trainer loads it onto the device.
  (void)cpu.step();
  cpu.save(dir / "cpu.safetensors");
  method::Trainer back(phantom_tasks(), small_run(device::cuda));
  back.load(dir / "cpu.safetensors");
  CHECK(back.steps_done() == 2);
  CHECK(layers::device_of(back.network(1)) == device::cuda);
  check_same_weights(back, cpu);
  // The optimizer state went through both devices: saving again gives the same archive.
  back.save(dir / "back.safetensors");
  const io::tensor_archive a = io::load_safetensors(dir / "cpu.safetensors"), b = io::load_safetensors(dir / "back.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, tensor] : a.tensors) {
    INFO(name);
    REQUIRE(b.contains(name));
    const io::archive_tensor& other = b.tensors.at(name);
    REQUIRE(tensor.index() == other.index());
    CHECK(std::visit(
        [&](const auto& x) { return x.storage() == std::get<std::decay_t<decltype(x)>>(other).storage(); }, tensor));
  }
  std::filesystem::remove_all(dir);
}
