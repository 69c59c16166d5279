#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include "modelmix/io/safetensors.hpp"
#include "modelmix/optim/adam.hpp"
#include "modelmix/optim/checkpoint.hpp"
#include "modelmix/optim/sgd.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace fs = std::filesystem;

namespace {
// Two named parameters and a deterministic gradient that depends on the values.
template <class T>
struct tiny_model {
  Parameter<T> weight{test::random_tensor<T>(Shape{2, 3, 3, 3}, 11)};
  Parameter<T> bias{test::random_tensor<T>(Shape{2}, 12)};
  optim::named_parameters<T> parameters() { return {{"encoder.block1.conv1.weight", &weight}, {"encoder.block1.conv1.bias", &bias}}; }
  void compute_gradients(int step) {
    for (index_t i = 0; i < weight.numel(); ++i) weight.grad[i] = weight.value[i] * T(0.5) + T(0.01 * (i % 7) - 0.02 * step);
    for (index_t i = 0; i < bias.numel(); ++i) bias.grad[i] = T(1) - bias.value[i];
  }
  void save(io::tensor_archive& archive) const {
    archive.put("encoder.block1.conv1.weight", weight.value);
    archive.put("encoder.block1.conv1.bias", bias.value);
  }
  void load(const io::tensor_archive& archive) {
    weight.value = archive.get_as<T>("encoder.block1.conv1.weight");
    bias.value = archive.get_as<T>("encoder.block1.conv1.bias");
  }
};

template <class Optimizer>
void run(tiny_model<float>& model, Optimizer& opt, int from, int to) {
  for (int s = from; s < to; ++s) {
    opt.zero_grad();
    model.compute_gradients(s);
    opt.step();
  }
}
}  // namespace

TEST_CASE("optimizer state is stored under optim.<kind>.<buffer>.<parameter>", "[optim][checkpoint]") {
  tiny_model<float> model;
  optim::Adam<float> adam(model.parameters(), {.lr = 1e-2, .weight_decay = 5e-4});
  run(model, adam, 0, 3);
  io::tensor_archive archive;
  optim::save_optimizer(archive, adam);
  CHECK(archive.get<std::int64_t>("optim.step")[0] == 3);
  CHECK(archive.shape_of("optim.step") == Shape{});
  CHECK(archive.metadata.at("optim.kind") == "adam");
  CHECK(archive.contains("optim.adam.exp_avg.encoder.block1.conv1.weight"));
  CHECK(archive.contains("optim.adam.exp_avg_sq.encoder.block1.conv1.bias"));
  CHECK(archive.tensors.size() == 5);
  CHECK(archive.get<float>("optim.adam.exp_avg.encoder.block1.conv1.bias").storage() ==
        adam.state().buffers.at("exp_avg.encoder.block1.conv1.bias").storage());
}

template <template <class> class Optimizer, class Options>
void check_resume(Options options) {
  const fs::path file = fs::temp_directory_path() / ("modelmix-ckpt-" + std::to_string(::getpid()) + ".safetensors");
  // Uninterrupted: 5 steps.
  tiny_model<float> straight;
  Optimizer<float> straight_opt(straight.parameters(), options);
  run(straight, straight_opt, 0, 5);

  // Interrupted after 3 steps: save weights and optimizer, resume in fresh objects.
  {
    tiny_model<float> first;
    Optimizer<float> opt(first.parameters(), options);
    run(first, opt, 0, 3);
    io::tensor_archive archive;
    first.save(archive);
    optim::save_optimizer(archive, opt);
    io::save_safetensors(file, archive);
  }
  tiny_model<float> resumed;
  Optimizer<float> opt(resumed.parameters(), options);
  const io::tensor_archive archive = io::load_safetensors(file);
  resumed.load(archive);
  optim::load_optimizer(archive, opt);
  CHECK(opt.step_count() == 3);
  run(resumed, opt, 3, 5);
  fs::remove(file);

  CHECK(resumed.weight.value.storage() == straight.weight.value.storage());  // bit for bit
  CHECK(resumed.bias.value.storage() == straight.bias.value.storage());
}

TEST_CASE("resuming from a checkpoint continues exactly where training stopped", "[optim][checkpoint]") {
  SECTION("adam") { check_resume<optim::Adam>(optim::adam_options{.lr = 1e-2, .weight_decay = 5e-4}); }
  SECTION("adamw") {
    check_resume<optim::Adam>(optim::adam_options{.lr = 1e-2, .weight_decay = 1e-2, .decay = optim::weight_decay_mode::decoupled});
  }
  SECTION("sgd with momentum") { check_resume<optim::Sgd>(optim::sgd_options{.lr = 1e-2, .momentum = 0.9, .dampening = 0.1}); }
  SECTION("sgd without momentum") { check_resume<optim::Sgd>(optim::sgd_options{.lr = 1e-2}); }
}

TEST_CASE("optimizer state loads across element types", "[optim][checkpoint]") {
  tiny_model<float> model;
  optim::Adam<float> adam(model.parameters());
  run(model, adam, 0, 2);
  io::tensor_archive archive;
  optim::save_optimizer(archive, adam);

  tiny_model<double> wide;
  optim::Adam<double> wide_adam(wide.parameters());
  optim::load_optimizer(archive, wide_adam);
  CHECK(wide_adam.step_count() == 2);
  const auto wide_state = wide_adam.state();
  const auto narrow_state = adam.state();
  const Tensor<double>& m = wide_state.buffers.at("exp_avg.encoder.block1.conv1.weight");
  CHECK(m[5] != 0.0);
  CHECK(m[5] == double(narrow_state.buffers.at("exp_avg.encoder.block1.conv1.weight")[5]));
}

TEST_CASE("loading mismatched optimizer state fails with a clear error", "[optim][checkpoint]") {
  tiny_model<float> model;
  optim::Adam<float> adam(model.parameters());
  optim::Sgd<float> sgd(model.parameters(), {.momentum = 0.9});
  io::tensor_archive archive;
  optim::save_optimizer(archive, adam);

  CHECK_THROWS_WITH(optim::load_optimizer(archive, sgd), Catch::Contains("holds 'adam' optimizer state under 'optim', not 'sgd'"));
  CHECK_THROWS_WITH(optim::load_optimizer(io::tensor_archive{}, adam), Catch::Contains("no 'optim.step'"));

  io::tensor_archive missing = archive;
  missing.tensors.erase("optim.adam.exp_avg_sq.encoder.block1.conv1.bias");
  CHECK_THROWS_WITH(optim::load_optimizer(missing, adam), Catch::Contains("no buffer 'exp_avg_sq.encoder.block1.conv1.bias'"));

  io::tensor_archive reshaped = archive;
  reshaped.put("optim.adam.exp_avg.encoder.block1.conv1.bias", Tensor<float>(Shape{3}));
  CHECK_THROWS_WITH(optim::load_optimizer(reshaped, adam),
                    Catch::Contains("buffer 'exp_avg.encoder.block1.conv1.bias' has shape [3], parameter "
                                    "'encoder.block1.conv1.bias' has shape [2]"));

  io::tensor_archive extra = archive;
  extra.put("optim.adam.exp_avg.decoder.head.weight", Tensor<float>(Shape{1}));
  CHECK_THROWS_WITH(optim::load_optimizer(extra, adam), Catch::Contains("'exp_avg.decoder.head.weight' that matches no parameter"));

  // Two optimizers in one file under different prefixes.
  optim::save_optimizer(archive, sgd, "optim_b");
  CHECK_NOTHROW(optim::load_optimizer(archive, sgd, "optim_b"));
  CHECK_NOTHROW(optim::load_optimizer(archive, adam));
}
